/** A loose catalog for workflow and replay tests: they are about the engine, not payloads. */
import { z } from 'zod';
import type { Catalog } from '../../src/saga/catalog.js';

const loose = z.record(z.string(), z.unknown());
const backends = ['postgres', 'neo4j', 'vector', 's3', 'http'];

export const testCatalog: Catalog = {
  backends: Object.fromEntries(
    backends.map((b) => [
      b,
      {
        operations: {
          write: { payload: loose, defaultCompensation: `${b}_undo`, description: 'test write' },
          notify: { payload: loose, description: 'test call without compensation' },
        },
      },
    ]),
  ),
  compensations: Object.fromEntries(
    backends.map((b) => [`${b}_undo`, { backend: b, description: 'test undo' }]),
  ),
};
