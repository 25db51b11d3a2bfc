/**
 * `loadPlugins(paths)`: imports plugin modules and checks what they add.
 *
 * A plugin module is accepted when it has at least one of: a default export made by
 * `definePlugin`, named exports made by `definePlugin` or `defineBackend`, or compensations it
 * registered with `registerCompensation` while it was imported. Paths are resolved against the
 * working directory (or `cwd`). A TypeScript plugin (`.ts`, `.mts`) is imported through tsx when
 * the process does not run under tsx already.
 *
 * Every problem is a {@link PluginError} naming the path and what is wrong: file not found, not
 * importable, no plugin export, a bad backend name, a backend or compensation name clashing with
 * a built-in one or with another plugin's, a compensation for a backend nobody defines.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinCatalog } from '../backends/catalog.js';
import type { BackendDefinition } from '../backends/define.js';
import { isBackendDefinition, isPlugin, type Plugin } from './define.js';
import { registerCompensation, registeredCompensations, unregisterCompensation } from './registry.js';

/** A plugin module that could not be loaded; the message names its path. */
export class PluginError extends Error {
  override name = 'PluginError';
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One loaded plugin module. */
export interface LoadedPlugin {
  /** The path as given. */
  path: string;
  /** The absolute path imported. */
  file: string;
  /** The plugin's name (`definePlugin`), else the file name. */
  name: string;
  backends: readonly BackendDefinition[];
  /** Names of the compensations it registered (its `compensations` and top-level `registerCompensation` calls). */
  compensations: string[];
}

export interface LoadPluginsOptions {
  /** Directory relative paths are resolved against (default: `process.cwd()`). */
  cwd?: string;
}

const BACKEND_NAME = /^[a-z][a-z0-9_]*$/;
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/**
 * Whether a TypeScript loader is active: this module runs as TypeScript itself (tsx, vitest). Run
 * from dist/, a `.ts` plugin needs tsx registered before its first import (a failed import is
 * cached by Node, so it cannot be retried).
 */
let typescriptLoaded = import.meta.url.endsWith('.ts');

async function importModule(file: string, path: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT.has(extname(file)) && !typescriptLoaded) {
    try {
      const { register } = (await import('tsx/esm/api')) as { register: () => unknown };
      register();
      typescriptLoaded = true;
    } catch (err) {
      throw new PluginError(
        `plugin ${path}: a TypeScript plugin needs tsx (npm install --save-dev tsx), or compile it to .js`,
        path,
        { cause: err },
      );
    }
  }
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new PluginError(`plugin ${path}: cannot import: ${(err as Error).message}`, path, { cause: err });
  }
}

/** Compensations each plugin module registered while it was imported, by absolute path. */
const registeredAtImport = new Map<string, string[]>();

/** The plugins and backend definitions a module exports. */
function exportsOf(mod: Record<string, unknown>): { plugins: Plugin[]; backends: BackendDefinition[] } {
  const plugins: Plugin[] = [];
  const backends: BackendDefinition[] = [];
  for (const value of new Set(Object.values(mod))) {
    if (isPlugin(value)) plugins.push(value);
    else if (isBackendDefinition(value)) backends.push(value);
  }
  return { plugins, backends };
}

/**
 * Imports the plugin modules at `paths` (each once; repeated paths are skipped), registers their
 * compensations in the process-wide registry and returns them, in order.
 * @throws PluginError naming the path and what is wrong.
 */
export async function loadPlugins(
  paths: readonly string[],
  options: LoadPluginsOptions = {},
): Promise<LoadedPlugin[]> {
  const cwd = options.cwd ?? process.cwd();
  const registeredBefore = new Set(registeredCompensations().map((c) => c.name));
  try {
    return await loadAll(paths, cwd);
  } catch (err) {
    // Leave the registry as it was: drop what the failed load registered.
    for (const c of registeredCompensations())
      if (!registeredBefore.has(c.name)) unregisterCompensation(c.name);
    throw err;
  }
}

async function loadAll(paths: readonly string[], cwd: string): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  /** Backend name → path of the plugin defining it. */
  const backendOwner = new Map<string, string>();
  /** Compensation name (of a plugin backend) → `backend "<b>" of plugin <path>`. */
  const compensationOwner = new Map<string, string>();
  const pending: { name: string; backend: string; path: string }[] = [];
  for (const path of paths) {
    const file = resolve(cwd, path);
    if (loaded.some((p) => p.file === file)) continue;
    if (!existsSync(file)) throw new PluginError(`plugin ${path}: file not found (${file})`, path);
    const before = new Set(registeredCompensations().map((c) => c.name));
    const mod = await importModule(file, path);
    const { plugins, backends: named } = exportsOf(mod);
    // A module runs once per process: on a second load, reuse what its first import registered.
    const fresh = registeredCompensations().filter((c) => !before.has(c.name));
    if (!registeredAtImport.has(file))
      registeredAtImport.set(
        file,
        fresh.map((c) => c.name),
      );
    const sideEffects = registeredCompensations().filter((c) =>
      registeredAtImport.get(file)!.includes(c.name),
    );
    if (plugins.length === 0 && named.length === 0 && sideEffects.length === 0)
      throw new PluginError(
        `plugin ${path}: no plugin export (expected \`export default definePlugin({ … })\`, an exported defineBackend(…) value, or registerCompensation calls)`,
        path,
      );
    const backends = [...plugins.flatMap((p) => p.backends), ...named].filter(
      (b, i, all) => all.indexOf(b) === i,
    );
    for (const b of backends) {
      if (typeof b.name !== 'string' || !BACKEND_NAME.test(b.name))
        throw new PluginError(
          `plugin ${path}: backend name ${JSON.stringify(b.name)} must match ${String(BACKEND_NAME)}`,
          path,
        );
      if (builtinCatalog.backends[b.name] !== undefined)
        throw new PluginError(
          `plugin ${path}: backend "${b.name}" clashes with the built-in backend of that name`,
          path,
        );
      const other = backendOwner.get(b.name);
      if (other !== undefined)
        throw new PluginError(
          `plugin ${path}: backend "${b.name}" is already defined by plugin ${other}`,
          path,
        );
      backendOwner.set(b.name, path);
      for (const c of Object.keys(b.compensations)) {
        const builtin = builtinCatalog.compensations[c];
        if (builtin !== undefined)
          throw new PluginError(
            `plugin ${path}: compensation "${c}" of backend "${b.name}" clashes with the built-in compensation of backend "${builtin.backend}"`,
            path,
          );
        const owner = compensationOwner.get(c);
        if (owner !== undefined)
          throw new PluginError(
            `plugin ${path}: compensation "${c}" of backend "${b.name}" is already defined by ${owner}`,
            path,
          );
        compensationOwner.set(c, `backend "${b.name}" of plugin ${path}`);
      }
    }
    const names = sideEffects.map((c) => c.name);
    for (const p of plugins) {
      for (const [name, c] of Object.entries(p.compensations)) {
        try {
          registerCompensation(name, c.handler, { backend: c.backend, description: c.description });
        } catch (err) {
          throw new PluginError(`plugin ${path}: ${(err as Error).message}`, path, { cause: err });
        }
        if (!names.includes(name)) names.push(name);
      }
    }
    for (const name of names) {
      const c = registeredCompensations().find((r) => r.name === name)!;
      pending.push({ name, backend: c.backend, path });
    }
    loaded.push({
      path,
      file,
      name: plugins[0]?.name ?? file.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, ''),
      backends,
      compensations: names,
    });
  }
  // Registered compensations: known backend, no clash (checked once every plugin is in).
  for (const c of pending) {
    const builtin = builtinCatalog.compensations[c.name];
    if (builtin !== undefined)
      throw new PluginError(
        `plugin ${c.path}: compensation "${c.name}" clashes with the built-in compensation of backend "${builtin.backend}"`,
        c.path,
      );
    const owner = compensationOwner.get(c.name);
    if (owner !== undefined)
      throw new PluginError(
        `plugin ${c.path}: compensation "${c.name}" is already defined by ${owner}`,
        c.path,
      );
    if (builtinCatalog.backends[c.backend] === undefined && !backendOwner.has(c.backend))
      throw new PluginError(
        `plugin ${c.path}: compensation "${c.name}" is for backend "${c.backend}", which is neither built in ` +
          `(${Object.keys(builtinCatalog.backends).join(', ')}) nor defined by a loaded plugin`,
        c.path,
      );
  }
  return loaded;
}

/**
 * Plugin paths from a comma-separated list (`POLYSAGA_PLUGINS`), blanks dropped.
 */
export function pluginPathList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
