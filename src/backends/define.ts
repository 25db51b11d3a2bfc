/**
 * `defineBackend`: one backend as one value, built-in or your own.
 *
 * ```ts
 * export const notes = defineBackend({
 *   name: 'notes',
 *   operations: {
 *     put: { payload: z.object({ id: z.string(), text: z.string() }), defaultCompensation: 'notes_delete', description: 'Writes a note.' },
 *   },
 *   compensations: { notes_delete: { description: 'Deletes the note a step wrote.' } },
 *   retry: { startToCloseTimeout: '10s', retry: { maximumAttempts: 3 } },
 *   connect: () => {
 *     const store = openNotes();
 *     return {
 *       operations: { put: op<{ id: string; text: string }>(async (p) => store.put(p.id, p.text)) },
 *       compensations: { notes_delete: async (input) => ({ outcome: await store.delete(String(input.payload.id)) }) },
 *       close: () => store.close(),
 *     };
 *   },
 * });
 * ```
 *
 * `name`, `operations`, `compensations` and `retry` are the pure half (a `BackendCatalog`, see
 * src/saga/catalog.ts): the client and the CLI validate definitions against it. `connect` is the
 * half that does I/O: the worker calls it once and gets the handlers, one per operation and per
 * compensation named in the catalog. The built-in backends are defined the same way, their pure
 * half in `src/backends/<name>/catalog.ts` and `connect` in `src/backends/<name>/runtime.ts`.
 *
 * `snapshot` (optional) lets `polysaga verify` check the store for residue: which objects a step
 * touches, and how to read them before and after a saga ({@link BackendSnapshot}). The
 * built-ins' snapshots are in `src/backends/<name>/snapshot.ts`. A backend without one is
 * reported as unchecked.
 */
import { APP_BACKEND } from '../saga/actions.js';
import type { BackendCatalog } from '../saga/catalog.js';
import type { Json } from '../saga/contracts.js';
import type { Adapters } from './connect.js';
import type { Config } from '../config/index.js';
import type { Backend, CompensationHandler, OperationHandler } from './types.js';

/** What `connect` is given. */
export interface ConnectContext {
  /** The clients of the built-in backends (opened by the worker; polysaga's own pool among them). */
  adapters: Omit<Adapters, 'close'>;
  /** The worker's configuration, when the worker connects the backend. */
  config?: Config;
}

/** The live half of a backend: a handler for each operation and compensation of its catalog. */
export interface BackendHandlers {
  operations: Record<string, OperationHandler>;
  compensations: Record<string, CompensationHandler>;
  /** Closes what `connect` opened (the worker calls it on shutdown). */
  close?: () => Promise<void> | void;
}

/** One object of a store that `polysaga verify` reads: `kind` and whatever identifies it. */
export interface SnapshotTarget {
  kind: string;
}

/** What the targets of a step may depend on besides its payload. */
export interface SnapshotTargetOptions {
  /** The default S3 bucket (`S3_BUCKET`). */
  defaultBucket: string;
}

/** Reads targets from the store; opened once per verify run. */
export interface SnapshotReader<T extends SnapshotTarget = SnapshotTarget> {
  /** The target's current state as JSON, `null` when it is absent (compared before and after a saga). */
  read(target: T): Promise<Json>;
  /** Closes what the reader opened. */
  close?(): Promise<void> | void;
}

/**
 * How `polysaga verify` checks a backend's store for residue: the objects a step touches, their
 * names in the report, and a reader of their state.
 *
 * ```ts
 * snapshot: {
 *   targets: (operation, p) => [{ kind: 'note', id: String(p.id) }],
 *   describe: (t) => `notes ${t.id}`,
 *   connect: () => ({ read: async (t) => openNotes().get(t.id) ?? null }),
 * }
 * ```
 */
export interface BackendSnapshot<T extends SnapshotTarget = SnapshotTarget> {
  /**
   * The targets of one step (forward operation, or inline compensation) whose payload has been
   * parsed by the operation's schema; or a sentence saying why the step cannot be checked.
   */
  targets(operation: string, payload: Record<string, unknown>, options: SnapshotTargetOptions): T[] | string;
  /** A name unique per target, shown in the report (default: the backend name and the target as JSON). */
  describe?(target: T): string;
  /** Opens the reader, over the worker's clients and configuration (as `connect` of the backend). */
  connect(ctx: ConnectContext): SnapshotReader<T> | Promise<SnapshotReader<T>>;
}

export interface BackendDefinitionInput<
  H extends BackendHandlers | Promise<BackendHandlers>,
  T extends SnapshotTarget = SnapshotTarget,
> extends BackendCatalog {
  connect(ctx: ConnectContext): H;
  /** How `polysaga verify` checks this backend's store (without it, its steps are unchecked). */
  snapshot?: BackendSnapshot<T>;
}

export interface BackendDefinition<
  H extends BackendHandlers | Promise<BackendHandlers> = BackendHandlers | Promise<BackendHandlers>,
> extends BackendDefinitionInput<H> {
  /** The pure half alone (what the client and the CLI need). */
  catalog: BackendCatalog;
}

/**
 * Defines a backend from its catalog (name, operations, compensations, retry) and `connect`.
 * Handlers are checked against the catalog when the backend connects.
 */
export function defineBackend<
  H extends BackendHandlers | Promise<BackendHandlers>,
  T extends SnapshotTarget = SnapshotTarget,
>(input: BackendDefinitionInput<H, T>): BackendDefinition<H> {
  const { name, operations, compensations, retry } = input;
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`backend name "${name}" must match ^[a-z][a-z0-9_]*$`);
  if (name === APP_BACKEND)
    throw new Error(
      `backend name "${APP_BACKEND}" is reserved for the application's actions (defineActions)`,
    );
  return {
    ...input,
    catalog: { name, operations, compensations, ...(retry ? { retry } : {}) },
  };
}

/**
 * The handlers of a connected backend as a {@link Backend}, after checking that every operation
 * and compensation of its catalog has a handler and no handler is left without an entry.
 */
export function toBackend(
  definition: Pick<BackendCatalog, 'name' | 'operations' | 'compensations'>,
  handlers: BackendHandlers,
): Backend {
  const problems: string[] = [];
  const compare = (kind: string, declared: object, given: object) => {
    for (const k of Object.keys(declared)) if (!(k in given)) problems.push(`${kind} "${k}" has no handler`);
    for (const k of Object.keys(given))
      if (!(k in declared)) problems.push(`${kind} "${k}" has a handler but is not in the catalog`);
  };
  compare('operation', definition.operations, handlers.operations);
  compare('compensation', definition.compensations, handlers.compensations);
  if (problems.length > 0) throw new Error(`backend "${definition.name}": ${problems.join('; ')}`);
  return { name: definition.name, operations: handlers.operations, compensations: handlers.compensations };
}

/** Connects a backend: calls its `connect` and checks the handlers against its catalog. */
export async function connectBackend(
  definition: BackendDefinition,
  ctx: ConnectContext,
): Promise<{ backend: Backend; close: () => Promise<void> }> {
  const handlers = await definition.connect(ctx);
  const backend = toBackend(definition, handlers);
  return { backend, close: async () => void (await handlers.close?.()) };
}
