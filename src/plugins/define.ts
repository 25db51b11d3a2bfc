/**
 * `definePlugin`: the value a plugin module exports. A plugin is an ES module (JavaScript, or
 * TypeScript run under tsx) whose default export is a plugin:
 *
 * ```ts
 * export default definePlugin({
 *   name: 'notes',
 *   backends: [notesBackend],                        // defineBackend(...) values
 *   compensations: {
 *     my_custom_undo: { backend: 'postgres', description: 'Marks the row deleted.', handler },
 *   },
 * });
 * ```
 *
 * The worker (`polysaga worker --plugin <path>`), the CLI (`start|validate|verify --plugin`) and
 * the client (`new SagaClient({ plugins })`) load the same modules with `loadPlugins`
 * (./load.ts) and so validate definitions against the same merged catalog.
 */
import type { BackendDefinition } from '../backends/define.js';
import type { RegisteredCompensationHandler } from './registry.js';

/** A compensation a plugin adds (registered with `registerCompensation` when the plugin loads). */
export interface PluginCompensation {
  /** The backend whose steps it undoes: a built-in one or one of a plugin. */
  backend: string;
  description: string;
  handler: RegisteredCompensationHandler;
}

export interface PluginInput {
  /** Shown in errors and `polysaga worker`'s start line. */
  name: string;
  backends?: readonly BackendDefinition[];
  compensations?: Readonly<Record<string, PluginCompensation>>;
}

const PLUGIN = Symbol.for('polysaga.plugin');

/** A plugin as {@link definePlugin} returns it. */
export interface Plugin {
  readonly [PLUGIN]: true;
  readonly name: string;
  readonly backends: readonly BackendDefinition[];
  readonly compensations: Readonly<Record<string, PluginCompensation>>;
}

/**
 * Defines a plugin: its backends (`defineBackend` values) and compensations. Checks the shape
 * only; names are checked against the built-ins and other plugins when it is loaded.
 * @throws Error naming the field that is wrong.
 */
export function definePlugin(input: PluginInput): Plugin {
  if (typeof input?.name !== 'string' || input.name.trim() === '')
    throw new Error('definePlugin: name must be a non-empty string');
  const backends = input.backends ?? [];
  if (!Array.isArray(backends)) throw new Error(`definePlugin("${input.name}"): backends must be an array`);
  backends.forEach((b, i) => {
    if (!isBackendDefinition(b))
      throw new Error(
        `definePlugin("${input.name}"): backends[${i}] is not a backend definition (use defineBackend)`,
      );
  });
  const compensations = input.compensations ?? {};
  for (const [name, c] of Object.entries(compensations)) {
    if (typeof c?.handler !== 'function')
      throw new Error(`definePlugin("${input.name}"): compensations.${name}.handler must be a function`);
    if (typeof c.backend !== 'string')
      throw new Error(`definePlugin("${input.name}"): compensations.${name}.backend must be a backend name`);
    if (typeof c.description !== 'string')
      throw new Error(`definePlugin("${input.name}"): compensations.${name}.description must be a string`);
  }
  return Object.freeze({ [PLUGIN]: true as const, name: input.name, backends, compensations });
}

/** Whether `value` was made by {@link definePlugin} (of any copy of polysaga). */
export function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN] === true;
}

/** Whether `value` looks like a `defineBackend` result (catalog and connect). */
export function isBackendDefinition(value: unknown): value is BackendDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<BackendDefinition>;
  return (
    typeof v.name === 'string' &&
    typeof v.connect === 'function' &&
    typeof v.operations === 'object' &&
    typeof v.compensations === 'object' &&
    typeof v.catalog === 'object'
  );
}
