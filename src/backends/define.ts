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
 */
import type { BackendCatalog } from '../saga/catalog.js';
import type { Adapters } from './connect.js';
import type { Config } from '../config/index.js';
import type { Json } from '../saga/contracts.js';
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

export interface BackendDefinitionInput<
  H extends BackendHandlers | Promise<BackendHandlers>,
> extends BackendCatalog {
  connect(ctx: ConnectContext): H;
  /** How `polysaga verify` reads this backend's store (omitted: its steps are listed as unchecked). */
  snapshot?: BackendSnapshot;
}

/**
 * What `polysaga verify` reads of a backend's store, in the shape of the built-ins'
 * `src/backends/<name>/snapshot.ts`: the objects one step touches, and the current state of one
 * of them as JSON. Verify compares the state before a run with the state after its compensation.
 */
export interface BackendSnapshot {
  /**
   * The store objects a step touches, each a JSON value naming one object (e.g. `{ table, id }`),
   * from the operation and its payload (as parsed by the operation's schema). A string instead
   * says why the step cannot be checked (it is listed as unchecked).
   */
  targets(operation: string, payload: Record<string, unknown>): Json[] | string;
  /** The current state of one target as JSON, `null` when absent. */
  read(target: Json, ctx: ConnectContext): Promise<Json>;
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
export function defineBackend<H extends BackendHandlers | Promise<BackendHandlers>>(
  input: BackendDefinitionInput<H>,
): BackendDefinition<H> {
  const { name, operations, compensations, retry } = input;
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`backend name "${name}" must match ^[a-z][a-z0-9_]*$`);
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
