/**
 * The merged catalog: the built-in backends, the backends of the loaded plugins, and every
 * compensation registered with `registerCompensation` (plugins' compensations among them). The
 * client, the CLI and the worker validate definitions against it.
 */
import { builtinCatalogs } from '../backends/catalog.js';
import type { BackendCatalog, Catalog } from '../saga/catalog.js';
import { catalogOf } from '../saga/catalog.js';
import { registeredCompensations } from './registry.js';

/** What the merge needs of a plugin: its backends' pure halves. */
export interface PluginBackends {
  backends: readonly { catalog: BackendCatalog }[];
}

/**
 * Adds the registered compensations to `catalog`. A compensation registered for a backend the
 * catalog does not have, or under a name the catalog already has, is an error naming both.
 */
export function withRegisteredCompensations(catalog: Catalog): Catalog {
  const registered = registeredCompensations();
  if (registered.length === 0) return catalog;
  const compensations = { ...catalog.compensations };
  for (const c of registered) {
    if (catalog.backends[c.backend] === undefined)
      throw new Error(
        `compensation "${c.name}" is registered for backend "${c.backend}", which is not in the catalog ` +
          `(backends: ${Object.keys(catalog.backends).join(', ')}); load the plugin that defines it`,
      );
    const owner = compensations[c.name];
    if (owner !== undefined)
      throw new Error(
        `compensation "${c.name}" is registered with registerCompensation, but backend "${owner.backend}" already defines it`,
      );
    compensations[c.name] = { backend: c.backend, description: c.description };
  }
  return { backends: catalog.backends, compensations };
}

/**
 * The catalog of the built-in backends plus `backends` (defined with `defineBackend`), with every
 * registered compensation. A backend or compensation name given twice is an error naming both
 * owners.
 */
export function mergedCatalog(backends: PluginBackends['backends'] = []): Catalog {
  return withRegisteredCompensations(catalogOf([...builtinCatalogs, ...backends.map((b) => b.catalog)]));
}

/** {@link mergedCatalog} of the backends of `plugins`. */
export function catalogWithPlugins(plugins: readonly PluginBackends[] = []): Catalog {
  return mergedCatalog(plugins.flatMap((p) => p.backends));
}
