/**
 * The process-wide compensation registry: `registerCompensation(name, handler, { backend,
 * description })` and `getCompensation(name)`.
 *
 * A compensation registered here is part of the merged catalog (so the client and the CLI accept
 * a step that names it) and of every worker's compensation registry created afterwards in this
 * process. Its handler is called with the step's compensation-stack entry and the worker's
 * clients (`ConnectContext`), so a compensation for a built-in backend can use polysaga's pools.
 *
 * The registry lives on `globalThis` under a `Symbol.for` key: a plugin that imports polysaga
 * from another copy of the package (the source under tsx, the build in dist/) still registers
 * into the one the worker reads.
 */
import type { CompensateStepInput, CompensateStepResult } from '../saga/contracts.js';
import type { ConnectContext } from '../backends/define.js';
import { builtinCatalog } from '../backends/catalog.js';

/** Undoes one step; `ctx` holds the worker's clients and configuration. */
export type RegisteredCompensationHandler = (
  input: CompensateStepInput,
  ctx: ConnectContext,
) => Promise<CompensateStepResult>;

export interface RegisterCompensationOptions {
  /** The backend whose steps this compensation undoes (built-in or a plugin's). */
  backend: string;
  /** One line for docs and error messages. */
  description: string;
}

/** One entry of the registry. */
export interface RegisteredCompensation extends RegisterCompensationOptions {
  name: string;
  handler: RegisteredCompensationHandler;
}

const REGISTRY = Symbol.for('polysaga.compensations');

function registry(): Map<string, RegisteredCompensation> {
  const g = globalThis as { [REGISTRY]?: Map<string, RegisteredCompensation> };
  return (g[REGISTRY] ??= new Map<string, RegisteredCompensation>());
}

/** Compensation names (as CompensationRegistry accepts them). */
const NAME = /^[A-Za-z][\w.-]*$/;
/** Backend names (as defineBackend accepts them). */
const BACKEND = /^[a-z][a-z0-9_]*$/;

/**
 * Registers a named compensation for `backend` in the process-wide registry. Registering the
 * same handler under the same name again is a no-op (a module imported twice); another handler
 * under a registered name, or a built-in compensation's name, is an error. Whether `backend`
 * exists is checked when the catalog is merged (`catalogWithPlugins`).
 * @throws Error naming the field that is wrong.
 */
export function registerCompensation(
  name: string,
  handler: RegisteredCompensationHandler,
  options: RegisterCompensationOptions,
): void {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new Error(`registerCompensation: name ${JSON.stringify(name)} must match ${String(NAME)}`);
  if (typeof handler !== 'function')
    throw new Error(`registerCompensation("${name}"): handler must be a function`);
  const { backend, description } = (options ?? {}) as Partial<RegisterCompensationOptions>;
  if (typeof backend !== 'string' || !BACKEND.test(backend))
    throw new Error(
      `registerCompensation("${name}"): backend ${JSON.stringify(backend)} must be a backend name (${String(BACKEND)})`,
    );
  if (typeof description !== 'string' || description.trim() === '')
    throw new Error(`registerCompensation("${name}"): description must be a non-empty string`);
  const builtin = builtinCatalog.compensations[name];
  if (builtin !== undefined)
    throw new Error(
      `registerCompensation("${name}"): clashes with the built-in compensation of backend "${builtin.backend}"`,
    );
  const known = registry().get(name);
  if (known) {
    if (known.handler === handler && known.backend === backend) return;
    throw new Error(
      `registerCompensation("${name}"): already registered for backend "${known.backend}" with another handler`,
    );
  }
  registry().set(name, { name, backend, description, handler });
}

/** The handler registered under `name` with {@link registerCompensation}, or undefined. */
export function getCompensation(name: string): RegisteredCompensationHandler | undefined {
  return registry().get(name)?.handler;
}

/** Every registered compensation, by name. */
export function registeredCompensations(): RegisteredCompensation[] {
  return [...registry().values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Removes a registration (tests, or an application that replaces a plugin); true if there was one. */
export function unregisterCompensation(name: string): boolean {
  return registry().delete(name);
}
