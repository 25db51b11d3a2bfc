/** deriveTargets: what `polysaga verify` snapshots for each built-in backend's steps. */
import { describe, expect, it } from 'vitest';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { assertValidDefinition } from '../../../src/saga/validate.js';
import { deriveTargets } from '../../../src/verify/targets.js';

const definition = {
  name: 'every-backend',
  sagaId: 'verify-targets',
  steps: [
    {
      id: 'row',
      backend: 'postgres',
      operation: 'insert',
      payload: { table: 'docs', values: { id: 7, title: 't' } },
    },
    {
      id: 'upd',
      backend: 'postgres',
      operation: 'update',
      payload: { table: 'docs', key: { id: 7 }, set: { title: 'u' } },
    },
    {
      id: 'node',
      backend: 'neo4j',
      operation: 'create_node',
      payload: { labels: ['Doc', 'X'], properties: { id: 'd7', n: 1 } },
    },
    {
      id: 'rel',
      backend: 'neo4j',
      operation: 'create_relationship',
      payload: {
        from: { label: 'Doc', key: { id: 'd7' } },
        to: { label: 'Doc', key: { id: 'd8' } },
        type: 'CITES',
      },
    },
    {
      id: 'pts',
      backend: 'vector',
      operation: 'upsert',
      payload: {
        collection: 'chunks',
        points: [
          { id: 'b', vector: [1] },
          { id: 'a', vector: [2] },
        ],
      },
    },
    {
      id: 'del',
      backend: 'vector',
      operation: 'delete',
      payload: { collection: 'chunks', filter: { doc: 'd7' } },
    },
    { id: 'obj', backend: 's3', operation: 'put_object', payload: { key: 'docs/7.txt', body: 'hello' } },
    { id: 'key', backend: 'kv', operation: 'set', payload: { key: 'doc:7', value: 'x' } },
    {
      id: 'files',
      backend: 'http',
      operation: 'request',
      payload: { service: 'files', method: 'POST', path: '/files', body: { project_id: 'p1' } },
      compensation: {
        operation: 'request',
        payload: { service: 'files', method: 'DELETE', path: '/files/p1' },
      },
    },
    {
      id: 'git',
      backend: 'http',
      operation: 'request',
      payload: { service: 'git', method: 'POST', path: '/snapshot/p%201' },
    },
    {
      id: 'other',
      backend: 'http',
      operation: 'request',
      payload: { service: 'mail', method: 'POST', path: '/send' },
    },
  ],
};

describe('deriveTargets', () => {
  it('names one target per store object, in the words of its backend', () => {
    const def = assertValidDefinition(definition, builtinCatalog);
    const plan = deriveTargets(def, builtinCatalog, { defaultBucket: 'polysaga' });
    expect(plan.targets.map((t) => [t.id, t.stepIds, t.compensatable, t.forward])).toEqual([
      ['postgres docs {"id":7}', ['row', 'upd'], true, true],
      ['neo4j (:Doc {"id":"d7"})', ['node'], true, true],
      ['neo4j (:Doc {"id":"d7"})-[:CITES]->(:Doc {"id":"d8"})', ['rel'], true, true],
      ['vector chunks ids ["b","a"]', ['pts'], true, true],
      ['vector chunks filter {"doc":"d7"}', ['del'], true, true],
      ['s3 s3://polysaga/docs/7.txt', ['obj'], true, true],
      ['kv doc:7', ['key'], true, true],
      ['http files files of p1', ['files'], true, true],
      ['http git snapshots of p 1', ['git'], true, true],
    ]);
    expect(plan.unchecked).toEqual([
      'files: http service "files": no project_id in the body or path',
      'other: http service "mail" has no snapshot reader (only "files" and "git" are known)',
    ]);
  });
});
