/**
 * The built-in operation catalog: every backend, its operations with zod payload schemas and
 * default compensations, and every registered compensation name. Pure: no drivers.
 */
import type { Catalog } from '../saga/catalog.js';
import { postgresBackend, postgresCompensations } from './postgres/catalog.js';
import { neo4jBackend, neo4jCompensations } from './neo4j/catalog.js';
import { s3Backend, s3Compensations } from './s3/catalog.js';
import { vectorBackend, vectorCompensations } from './vector/catalog.js';
import { kvBackend, kvCompensations } from './kv/catalog.js';
import { httpBackend, httpCompensations } from './http/catalog.js';

export type { Catalog, BackendSpec, OperationSpec, CompensationSpec } from '../saga/catalog.js';

export const builtinCatalog: Catalog = {
  backends: {
    postgres: postgresBackend,
    neo4j: neo4jBackend,
    s3: s3Backend,
    vector: vectorBackend,
    kv: kvBackend,
    http: httpBackend,
  },
  compensations: {
    ...postgresCompensations,
    ...neo4jCompensations,
    ...s3Compensations,
    ...vectorCompensations,
    ...kvCompensations,
    ...httpCompensations,
  },
};
