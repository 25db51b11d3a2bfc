/**
 * Scopes in the audit table (docs/configuration.md, "Scopes"): `polysaga recover` scans only its
 * own scope's trails (findFailedSagas / findUnfinishedSagas with `scope`), and migration 0008
 * gives polysaga_saga_runs and polysaga_saga_outcomes a `scope` column.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFailedSagas, findUnfinishedSagas, migrate } from '../../../src/audit/index.js';
import { createTestDatabase, type TestDatabase } from './helpers.js';

let db: TestDatabase;

async function saga(sagaId: string, statuses: string[]): Promise<void> {
  for (const [i, status] of statuses.entries()) {
    await db.pool.query(
      `INSERT INTO uds3_saga_events (saga_id, run_id, seq, step_id, status, saga_name, created_at)
       VALUES ($1, 'run', $2, NULL, $3, 'order', now() - interval '1 hour')`,
      [sagaId, i + 1, status],
    );
  }
}

const FAILED = ['SAGA_STARTED', 'SAGA_FAILED'];
const OPEN = ['SAGA_STARTED', 'STEP_PENDING'];
const COMMITTED = ['SAGA_STARTED', 'SAGA_COMMITTED'];

beforeAll(async () => {
  db = await createTestDatabase('scope');
  await migrate(db.pool);
  // The same saga id in the default scope and in three scopes; `a_b-dev` holds a `_`, which a
  // LIKE pattern would read as any character (`@aXb-dev/…` must not match it).
  for (const id of ['x', '@acme-dev/x', '@acme-staging/x', '@a_b-dev/x', '@aXb-dev/x'])
    await saga(id, FAILED);
  for (const id of ['y', '@acme-dev/y', '@acme-dev2/y']) await saga(id, OPEN);
  await saga('@acme-dev/z', COMMITTED);
});

afterAll(async () => db?.drop());

const ids = (rows: { sagaId: string }[]) => rows.map((r) => r.sagaId).sort();

describe('audit queries of one scope', () => {
  it('find FAILED sagas of the own scope only', async () => {
    expect(ids(await findFailedSagas(db.pool, { scope: 'acme-dev' }))).toEqual(['@acme-dev/x']);
    expect(ids(await findFailedSagas(db.pool, { scope: 'acme-staging' }))).toEqual(['@acme-staging/x']);
    expect(ids(await findFailedSagas(db.pool, { scope: 'a_b-dev' }))).toEqual(['@a_b-dev/x']);
    expect(ids(await findFailedSagas(db.pool, { scope: '' }))).toEqual(['x']);
    // No scope given: every saga (as before scopes existed).
    expect(await findFailedSagas(db.pool)).toHaveLength(5);
  });

  it('find unfinished sagas of the own scope only; a scope is not a prefix of a longer one', async () => {
    expect(ids(await findUnfinishedSagas(db.pool, { scope: 'acme-dev' }))).toEqual(['@acme-dev/y']);
    expect(ids(await findUnfinishedSagas(db.pool, { scope: '' }))).toEqual(['y']);
    expect(
      ids(
        await findUnfinishedSagas(db.pool, { scope: 'acme-dev', sagaIds: ['@acme-dev/y', '@acme-dev2/y'] }),
      ),
    ).toEqual(['@acme-dev/y']);
  });

  it('the saga views carry each saga scope', async () => {
    const runs = await db.pool.query<{ saga_id: string; scope: string }>(
      `SELECT saga_id, scope FROM polysaga_saga_runs ORDER BY saga_id`,
    );
    expect(Object.fromEntries(runs.rows.map((r) => [r.saga_id, r.scope]))).toEqual({
      '@a_b-dev/x': 'a_b-dev',
      '@aXb-dev/x': 'aXb-dev',
      '@acme-dev/x': 'acme-dev',
      '@acme-dev/y': 'acme-dev',
      '@acme-dev/z': 'acme-dev',
      '@acme-dev2/y': 'acme-dev2',
      '@acme-staging/x': 'acme-staging',
      x: '',
      y: '',
    });
    const outcomes = await db.pool.query<{ scope: string; outcome: string }>(
      `SELECT scope, outcome FROM polysaga_saga_outcomes WHERE saga_id = '@acme-dev/z'`,
    );
    expect(outcomes.rows).toEqual([{ scope: 'acme-dev', outcome: 'committed' }]);
  });
});
