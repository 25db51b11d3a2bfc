/**
 * The built-in catalog: the pure half (src/saga/catalog.ts, `BackendCatalog`) of every built-in
 * backend, collected. Pure: zod schemas and data, no drivers, so the client and the CLI validate
 * definitions with it without connecting to anything.
 */
import { catalogOf, type BackendCatalog, type Catalog } from '../saga/catalog.js';
import { postgresCatalog } from './postgres/catalog.js';
import { neo4jCatalog } from './neo4j/catalog.js';
import { s3Catalog } from './s3/catalog.js';
import { vectorCatalog } from './vector/catalog.js';
import { kvCatalog } from './kv/catalog.js';
import { httpCatalog } from './http/catalog.js';

export type { Catalog, BackendSpec, OperationSpec, CompensationSpec } from '../saga/catalog.js';

/** postgres, neo4j, s3, vector, kv and http, in that order. */
export const builtinCatalogs: readonly BackendCatalog[] = [
  postgresCatalog,
  neo4jCatalog,
  s3Catalog,
  vectorCatalog,
  kvCatalog,
  httpCatalog,
];

export const builtinCatalog: Catalog = catalogOf(builtinCatalogs);
