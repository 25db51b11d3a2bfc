/** deriveTargets: what `polysaga verify` snapshots for each backend's steps, from the backends' snapshots. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinCatalog, builtinCatalogs } from '../../../src/backends/catalog.js';
import { defineBackend } from '../../../src/backends/define.js';
import { builtinBackends } from '../../../src/backends/index.js';
import { catalogOf } from '../../../src/saga/catalog.js';
import { assertValidDefinition } from '../../../src/saga/validate.js';
import { builtinSnapshots, deriveTargets, snapshotsOf } from '../../../src/verify/targets.js';

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

  it("takes every built-in backend's snapshot from its definition", () => {
    expect(
      builtinBackends.map((d) => [d.name, typeof d.snapshot?.targets, typeof d.snapshot?.connect]),
    ).toEqual(builtinBackends.map((d) => [d.name, 'function', 'function']));
    expect(Object.keys(builtinSnapshots).sort()).toEqual(builtinBackends.map((d) => d.name).sort());
  });

  it("checks a backend of one's own through its snapshot; without one its steps are unchecked", () => {
    const withSnapshot = defineBackend({
      name: 'notes',
      operations: {
        put: {
          payload: z.object({ id: z.string(), folder: z.string().default('inbox') }),
          defaultCompensation: 'notes_delete',
          description: 'Writes a note.',
        },
      },
      compensations: { notes_delete: { description: 'Deletes the note.' } },
      connect: () => ({ operations: {}, compensations: {} }),
      snapshot: {
        // The payload arrives parsed by the operation's schema: `folder` has its default.
        targets: (operation, p) => [
          { kind: 'note', op: operation, path: `${String(p.folder)}/${String(p.id)}` },
        ],
        describe: (t) => `notes ${t.path}`,
        connect: () => ({ read: () => Promise.resolve(null) }),
      },
    });
    const { snapshot: _none, ...bare } = withSnapshot;
    const catalog = catalogOf([...builtinCatalogs, withSnapshot.catalog]);
    const def = assertValidDefinition(
      {
        name: 'notes-saga',
        sagaId: 'verify-notes',
        steps: [
          { id: 'note', backend: 'notes', operation: 'put', payload: { id: 'n1' } },
          { id: 'key', backend: 'kv', operation: 'set', payload: { key: 'k1', value: 'v' } },
        ],
      },
      catalog,
    );
    const checked = deriveTargets(def, catalog, {
      defaultBucket: 'polysaga',
      snapshots: snapshotsOf([...builtinBackends, withSnapshot]),
    });
    expect(checked.targets.map((t) => [t.id, t.backend, t.spec])).toEqual([
      ['notes inbox/n1', 'notes', { kind: 'note', op: 'put', path: 'inbox/n1' }],
      ['kv k1', 'kv', { kind: 'kv-key', key: 'k1' }],
    ]);
    expect(checked.unchecked).toEqual([]);

    const unchecked = deriveTargets(def, catalog, {
      defaultBucket: 'polysaga',
      snapshots: snapshotsOf([...builtinBackends, bare]),
    });
    expect(unchecked.targets.map((t) => t.id)).toEqual(['kv k1']);
    expect(unchecked.unchecked).toEqual([
      'note: backend "notes" has no snapshot to check it with (defineBackend\'s `snapshot`)',
    ]);
  });
});
