/**
 * Guarded stores (src/saga/guard.ts) through validateDefinition with the built-in catalog:
 * polysaga's own objects are refused for every backend, in every spelling, naming the field;
 * allowlists refuse what is outside them and name their variable; the worker's step activity
 * refuses the same payloads non-retryably when a definition skipped validation.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createStepActivities } from '../../../src/activities/steps.js';
import type { Backend } from '../../../src/backends/types.js';
import { loadConfig, storeGuard } from '../../../src/config/index.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes, type JsonObject } from '../../../src/saga/contracts.js';
import type { StoreGuard } from '../../../src/saga/guard.js';
import { validateDefinition } from '../../../src/saga/validate.js';

type Step = { backend: string; operation: string; payload: JsonObject; compensation?: unknown };

/** The one-line refusals of a one-step definition (empty: valid). */
function refusals(step: Step, guard?: Partial<StoreGuard>): string[] {
  const r = validateDefinition({ name: 't', sagaId: 't-1', steps: [{ id: 's', ...step }] }, builtinCatalog, {
    ...(guard ? { guard } : {}),
  });
  return r.ok ? [] : r.issues.map((i) => `${i.field}: ${i.message}`);
}

const pg = (table: string, operation = 'insert'): Step => ({
  backend: 'postgres',
  operation,
  payload:
    operation === 'insert' || operation === 'upsert'
      ? { table, values: { saga_id: 'evil', seq: 1, status: 'SAGA_COMMITTED' } }
      : operation === 'update'
        ? { table, key: { id: 1 }, set: { status: 'x' } }
        : { table, key: { id: 1 } },
});

describe('reserved objects: postgres', () => {
  it('refuses the forging insert into the audit table, naming the field', () => {
    expect(refusals(pg('uds3_saga_events'))).toEqual([
      'payload.table: "uds3_saga_events" is reserved for polysaga',
    ]);
  });

  it.each([
    'public.uds3_saga_events',
    'UDS3_SAGA_EVENTS',
    'Public.Uds3_Saga_Events',
    'audit.uds3_saga_events',
    'polysaga_idempotency',
    'polysaga_blobs',
    'public.polysaga_schema_migrations',
    'polysaga_saga_runs',
    'polysaga_saga_metrics_daily',
    'POLYSAGA_BLOBS',
  ])('refuses %s for every operation', (table) => {
    for (const op of ['insert', 'upsert', 'update', 'delete']) {
      expect(refusals(pg(table, op)), `${op} ${table}`).toEqual([
        `payload.table: ${JSON.stringify(table)} is reserved for polysaga`,
      ]);
    }
  });

  it('refuses PostgreSQL system catalogs (pg_catalog is first on every search path)', () => {
    for (const t of [
      'pg_authid',
      'pg_catalog.pg_class',
      'PG_CATALOG.pg_proc',
      'information_schema.tables',
      'pg_toast.x',
    ])
      expect(refusals(pg(t)), t).toEqual([
        `payload.table: ${JSON.stringify(t)} is a PostgreSQL system catalog`,
      ]);
  });

  it('lets ordinary tables through, including look-alikes', () => {
    for (const t of ['documents', 'public.orders', 'uds3_saga_events_copy', 'my_polysaga_notes', 'polysaga'])
      expect(refusals(pg(t)), t).toEqual([]);
  });

  it('refuses an inline compensation that writes into polysaga tables', () => {
    expect(
      refusals({
        ...pg('documents'),
        compensation: {
          operation: 'insert',
          payload: {
            table: 'uds3_saga_events',
            values: { saga_id: 'evil', seq: 2, status: 'SAGA_COMMITTED' },
          },
        },
      }),
    ).toEqual(['compensation.payload.table: "uds3_saga_events" is reserved for polysaga']);
  });
});

describe('reserved objects: kv, s3, neo4j', () => {
  it('refuses Redis keys under the project prefix (polysaga: by default, PROJECT_PREFIX otherwise)', () => {
    const set = (key: string): Step => ({ backend: 'kv', operation: 'set', payload: { key, value: 'x' } });
    expect(refusals(set('polysaga:idem:some-step'))).toEqual([
      'payload.key: "polysaga:idem:some-step" is reserved for polysaga (keys under "polysaga:", PROJECT_PREFIX)',
    ]);
    expect(refusals({ backend: 'kv', operation: 'delete', payload: { key: 'polysaga:x' } })).toHaveLength(1);
    expect(refusals(set('session:1'))).toEqual([]);
    expect(refusals(set('acme:idem:k'), { projectPrefix: 'acme' })).toHaveLength(1);
    expect(refusals(set('polysaga:idem:k'), { projectPrefix: 'acme' })).toEqual([]);
  });

  it('refuses S3 keys under polysaga/ in any bucket, for writes and reads', () => {
    expect(
      refusals({
        backend: 's3',
        operation: 'put_object',
        payload: { key: 'polysaga/before-images/x', body: 'b' },
      }),
    ).toEqual(['payload.key: "polysaga/before-images/x" is reserved for polysaga (keys under "polysaga/")']);
    expect(
      refusals({
        backend: 's3',
        operation: 'delete_object',
        payload: { bucket: 'other', key: '/polysaga/x' },
      }),
    ).toHaveLength(1);
    expect(
      refusals({
        backend: 's3',
        operation: 'copy_object',
        payload: { key: 'docs/leak', sourceKey: 'polysaga/before-images/s/t/h' },
      }),
    ).toEqual([
      'payload.sourceKey: "polysaga/before-images/s/t/h" is reserved for polysaga (keys under "polysaga/")',
    ]);
    // Keys that a file-backed S3 server would resolve into polysaga/.
    for (const key of [
      'documents/../polysaga/before-images/x',
      'polysaga//x',
      './polysaga/x',
      '//polysaga/x',
    ])
      expect(refusals({ backend: 's3', operation: 'delete_object', payload: { key } }), key).toEqual([
        `payload.key: ${JSON.stringify(key)} is reserved for polysaga (keys under "polysaga/")`,
      ]);
    expect(
      refusals({
        backend: 's3',
        operation: 'put_object',
        payload: { key: 'docs/a', source: { key: 'polysaga/uploads/../before-images/s/t/h' } },
      }),
    ).toHaveLength(1);
    // What the client uploaded for a bodyFile may be read back as the source, in the configured bucket.
    expect(
      refusals({
        backend: 's3',
        operation: 'put_object',
        payload: { key: 'docs/a.txt', source: { key: 'polysaga/uploads/t-1/s/abc' } },
      }),
    ).toEqual([]);
    expect(
      refusals({
        backend: 's3',
        operation: 'put_object',
        payload: { key: 'polysaga/uploads/t-1/s/abc', body: 'overwrite' },
      }),
    ).toHaveLength(1);
    expect(
      refusals({ backend: 's3', operation: 'put_object', payload: { key: 'documents/a.txt', body: 'b' } }),
    ).toEqual([]);
  });

  it('refuses Neo4j labels of polysaga (PolysagaIdempotency, any case) wherever a label is named', () => {
    expect(
      refusals({
        backend: 'neo4j',
        operation: 'create_node',
        payload: { labels: ['Document', 'PolysagaIdempotency'], properties: { key: 'k', result: '{}' } },
      }),
    ).toEqual(['payload.labels[1]: "PolysagaIdempotency" is reserved for polysaga']);
    expect(
      refusals({
        backend: 'neo4j',
        operation: 'set_properties',
        payload: { label: 'polysagaidempotency', key: { key: 'k' }, properties: { result: '{}' } },
      }),
    ).toEqual(['payload.label: "polysagaidempotency" is reserved for polysaga']);
    expect(
      refusals({
        backend: 'neo4j',
        operation: 'create_relationship',
        payload: {
          from: { label: 'Document', key: { id: 'd' } },
          to: { label: 'PolysagaIdempotency', key: { key: 'k' } },
          type: 'X',
        },
      }),
    ).toEqual(['payload.to.label: "PolysagaIdempotency" is reserved for polysaga']);
    for (const op of ['merge_node', 'delete_node'])
      expect(
        refusals({ backend: 'neo4j', operation: op, payload: { label: 'PolysagaX', key: { id: 1 } } }),
      ).toHaveLength(1);
  });
});

describe('allowlists', () => {
  it('postgres: schema.table, schema.* and bare tables (public); the refusal names the variable', () => {
    const allow = { postgresTables: ['public.orders', 'sales.*', 'items'] };
    for (const t of ['orders', 'public.orders', 'sales.invoices', 'items', 'public.items'])
      expect(refusals(pg(t), { allow }), t).toEqual([]);
    expect(refusals(pg('documents'), { allow })).toEqual([
      'payload.table: "documents" is not in the allowlist POLYSAGA_ALLOW_POSTGRES_TABLES (public.orders, sales.*, items)',
    ]);
    expect(refusals(pg('other.orders'), { allow })).toHaveLength(1);
    // An allowlist never opens polysaga's own tables.
    expect(refusals(pg('uds3_saga_events'), { allow: { postgresTables: ['public.*'] } })).toEqual([
      'payload.table: "uds3_saga_events" is reserved for polysaga',
    ]);
  });

  it('neo4j labels', () => {
    const allow = { neo4jLabels: ['Document', 'Chunk*'] };
    const node = (labels: string[]): Step => ({
      backend: 'neo4j',
      operation: 'create_node',
      payload: { labels, properties: { id: 'x' } },
    });
    expect(refusals(node(['Document', 'ChunkV2']), { allow })).toEqual([]);
    expect(refusals(node(['Document', 'User']), { allow })).toEqual([
      'payload.labels[1]: "User" is not in the allowlist POLYSAGA_ALLOW_NEO4J_LABELS (Document, Chunk*)',
    ]);
  });

  it('kv key prefixes', () => {
    const allow = { kvPrefixes: ['cache:', 'session:'] };
    const set = (key: string): Step => ({ backend: 'kv', operation: 'set', payload: { key, value: 'v' } });
    expect(refusals(set('cache:doc-1'), { allow })).toEqual([]);
    expect(refusals(set('admin:flag'), { allow })).toEqual([
      'payload.key: "admin:flag" is not in the allowlist POLYSAGA_ALLOW_KV_PREFIXES (cache:, session:)',
    ]);
  });

  it('s3 bucket/prefix, for the written key and the copied source', () => {
    const allow = { s3Prefixes: ['polysaga/documents/', 'archive/'] };
    const guard = { s3Bucket: 'polysaga', allow };
    expect(
      refusals({ backend: 's3', operation: 'put_object', payload: { key: 'documents/a', body: 'b' } }, guard),
    ).toEqual([]);
    expect(
      refusals(
        { backend: 's3', operation: 'put_object', payload: { bucket: 'archive', key: 'x/y', body: 'b' } },
        guard,
      ),
    ).toEqual([]);
    expect(
      refusals({ backend: 's3', operation: 'put_object', payload: { key: 'public/a', body: 'b' } }, guard),
    ).toEqual([
      'payload.key: "polysaga/public/a" is not in the allowlist POLYSAGA_ALLOW_S3_PREFIXES (polysaga/documents/, archive/)',
    ]);
    expect(
      refusals(
        {
          backend: 's3',
          operation: 'copy_object',
          payload: { key: 'documents/b', sourceBucket: 'secrets', sourceKey: 'k' },
        },
        guard,
      ),
    ).toEqual([
      'payload.sourceKey: "secrets/k" is not in the allowlist POLYSAGA_ALLOW_S3_PREFIXES (polysaga/documents/, archive/)',
    ]);
  });

  it('vector collections', () => {
    const allow = { vectorCollections: ['documents', 'chunks-*'] };
    const upsert = (collection: string): Step => ({
      backend: 'vector',
      operation: 'upsert',
      payload: { collection, points: [{ id: 'p', vector: [0.1] }] },
    });
    expect(refusals(upsert('documents'), { allow })).toEqual([]);
    expect(refusals(upsert('chunks-v2'), { allow })).toEqual([]);
    expect(refusals(upsert('users'), { allow })).toEqual([
      'payload.collection: "users" is not in the allowlist POLYSAGA_ALLOW_VECTOR_COLLECTIONS (documents, chunks-*)',
    ]);
    expect(
      refusals(
        { backend: 'vector', operation: 'delete', payload: { collection: 'users', ids: ['p'] } },
        { allow },
      ),
    ).toHaveLength(1);
  });

  it('are read from the environment by loadConfig and handed on by storeGuard', () => {
    const cfg = loadConfig({
      POLYSAGA_CONFIG: undefined,
      POLYSAGA_ALLOW_POSTGRES_TABLES: 'public.orders, sales.*',
      POLYSAGA_ALLOW_NEO4J_LABELS: 'Document',
      POLYSAGA_ALLOW_KV_PREFIXES: 'cache:',
      POLYSAGA_ALLOW_S3_PREFIXES: 'docs-bucket/uploads/',
      POLYSAGA_ALLOW_VECTOR_COLLECTIONS: 'documents',
      PROJECT_PREFIX: 'acme',
      S3_BUCKET: 'docs-bucket',
    });
    expect(storeGuard(cfg)).toEqual({
      projectPrefix: 'acme',
      s3Bucket: 'docs-bucket',
      allow: {
        postgresTables: ['public.orders', 'sales.*'],
        neo4jLabels: ['Document'],
        kvPrefixes: ['cache:'],
        s3Prefixes: ['docs-bucket/uploads/'],
        vectorCollections: ['documents'],
      },
    });
    expect(storeGuard(loadConfig({})).allow).toEqual({});
    expect(() => loadConfig({ POLYSAGA_ALLOW_POSTGRES_TABLES: 'orders; drop table x' })).toThrow(
      /POLYSAGA_ALLOW_POSTGRES_TABLES/,
    );
    expect(() => loadConfig({ POLYSAGA_ALLOW_S3_PREFIXES: 'no-slash' })).toThrow(
      /POLYSAGA_ALLOW_S3_PREFIXES/,
    );
  });
});

describe('the worker checks again (definition that skipped validation)', () => {
  /** A postgres backend that records what it was asked to do. */
  function recordingBackends(): { backends: Backend[]; calls: string[] } {
    const calls: string[] = [];
    const record = (name: string) => (p: never) => {
      calls.push(`${name} ${JSON.stringify(p)}`);
      return Promise.resolve({});
    };
    return {
      calls,
      backends: [
        {
          name: 'postgres',
          operations: { insert: record('insert') },
          compensations: {
            relational_delete: () => (calls.push('undo'), Promise.resolve({ outcome: 'undone' as const })),
          },
        },
        { name: 'kv', operations: { set: record('set') }, compensations: {} },
      ],
    };
  }
  const ctx = { sagaId: 'evil', stepId: 's', traceId: 't', idempotencyKey: 'evil:s' };

  it('executeStep refuses polysaga tables non-retryably and never calls the backend', async () => {
    const { backends, calls } = recordingBackends();
    const steps = createStepActivities({ catalog: builtinCatalog, backends });
    const err = await steps
      .executeStep({
        ...ctx,
        backend: 'postgres',
        operation: 'insert',
        payload: {
          table: 'public.UDS3_SAGA_EVENTS',
          values: { saga_id: 'evil', seq: 1, status: 'SAGA_COMMITTED' },
        },
      } as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FailureTypes.GuardedStore);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toBe(
      'guarded store: postgres.insert: payload.table: "public.UDS3_SAGA_EVENTS" is reserved for polysaga',
    );
    expect(calls).toEqual([]);
  });

  it('executeStep applies the allowlist; allowed targets run', async () => {
    const { backends, calls } = recordingBackends();
    const steps = createStepActivities({
      catalog: builtinCatalog,
      backends,
      guard: { allow: { kvPrefixes: ['cache:'] } },
    });
    await expect(
      steps.executeStep({
        ...ctx,
        backend: 'kv',
        operation: 'set',
        payload: { key: 'admin:x', value: 'v' },
      } as never),
    ).rejects.toThrow('payload.key: "admin:x" is not in the allowlist POLYSAGA_ALLOW_KV_PREFIXES (cache:)');
    await steps.executeStep({
      ...ctx,
      backend: 'kv',
      operation: 'set',
      payload: { key: 'cache:x', value: 'v' },
    } as never);
    expect(calls).toEqual(['set {"key":"cache:x","value":"v"}']);
  });

  it('compensateStep refuses a named compensation over a polysaga table and an inline one after filling templates', async () => {
    const { backends, calls } = recordingBackends();
    const steps = createStepActivities({ catalog: builtinCatalog, backends });
    const base = { ...ctx, sagaName: 'n', backend: 'postgres', result: { table: 'uds3_saga_events' } };
    await expect(
      steps.compensateStep({
        ...base,
        compensation: 'relational_delete',
        payload: { table: 'uds3_saga_events', values: { saga_id: 'x' } },
      }),
    ).rejects.toThrow(
      /guarded store: compensation relational_delete of step s: payload\.table: "uds3_saga_events" is reserved/,
    );
    await expect(
      steps.compensateStep({
        ...base,
        compensation: {
          operation: 'insert',
          payload: { table: 'documents', values: { id: 1 } },
        },
        payload: { table: 'documents', values: { id: 1 } },
      }),
    ).resolves.toMatchObject({ outcome: 'undone' });
    await expect(
      steps.compensateStep({
        ...base,
        backend: 'kv',
        compensation: { operation: 'set', payload: { key: '{{payload.target}}', value: 'v' } },
        payload: { target: 'polysaga:idem:x' },
      }),
    ).rejects.toThrow('guarded store: kv.set: payload.key: "polysaga:idem:x" is reserved for polysaga');
    expect(calls).toEqual(['insert {"table":"documents","values":{"id":1},"keyColumns":["id"]}']);
  });
});
