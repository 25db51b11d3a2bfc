/**
 * End to end, as a user drives it: a real `polysaga worker` process, the CLI, the real stack.
 * One saga commits, one fails and rolls back; both trails are read with `polysaga events` and
 * with SQL; migrations run twice.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { EventStatus } from '../../src/saga/contracts.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { polysaga, startWorker } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-cli-${run}` };
const table = `e2e_cli_${run}`;
const dir = mkdtempSync(join(tmpdir(), 'polysaga-e2e-'));
let pool: pg.Pool;
let worker: Awaited<ReturnType<typeof startWorker>>;

function definitionFile(name: string, def: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(def, null, 2));
  return file;
}

function ingest(sagaId: string, docId: string, failing: boolean) {
  return {
    name: 'e2e-ingest',
    sagaId,
    steps: [
      {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: docId, title: 'e2e' } },
      },
      {
        id: 'node',
        backend: 'neo4j',
        operation: 'create_node',
        payload: { labels: ['E2eDoc'], properties: { id: docId } },
        compensation: 'graph_delete_node',
      },
      {
        id: 'audit-row',
        backend: 'postgres',
        operation: 'insert',
        // The failing saga inserts the same key again: a constraint violation, which is permanent.
        payload: { table, values: { id: failing ? docId : `${docId}-audit`, title: 'second' } },
      },
    ],
  };
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text)`);
  worker = await startWorker(env);
});

afterAll(async () => {
  await worker?.stop();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

describe('polysaga CLI end to end', () => {
  it('migrate is idempotent: the second run applies nothing', async () => {
    const first = await polysaga(['migrate', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const second = await polysaga(['migrate', '--json'], env);
    expect(second.code, second.stderr).toBe(0);
    const result = JSON.parse(second.stdout) as { applied: unknown[]; version: number };
    expect(result.applied).toEqual([]);
    expect(result.version).toBeGreaterThanOrEqual(4);
    // Each migration is recorded once, whatever the number of runs.
    const versions = await pool.query<{ version: number; n: number }>(
      'SELECT version, count(*)::int AS n FROM polysaga_schema_migrations GROUP BY version ORDER BY version',
    );
    expect(versions.rows.map((r) => r.version)).toEqual(
      Array.from({ length: result.version }, (_, i) => i + 1),
    );
    expect(versions.rows.every((r) => r.n === 1)).toBe(true);
  });

  it('a committing saga: start --wait exits 0, writes land, the trail is complete in SQL and in `events`', async () => {
    const sagaId = `e2e-ok-${run}`;
    const docId = `doc-ok-${run}`;
    const started = await polysaga(
      ['start', definitionFile('ok', ingest(sagaId, docId, false)), '--wait', '--json'],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    expect((JSON.parse(started.stdout) as { state: string }).state).toBe('COMMITTED');

    const rows = await pool.query(`SELECT id FROM ${table} WHERE id = ANY($1) ORDER BY id`, [
      [docId, `${docId}-audit`],
    ]);
    expect(rows.rows.map((r: { id: string }) => r.id)).toEqual([docId, `${docId}-audit`]);

    const events = await polysaga(['events', sagaId, '--json'], env);
    expect(events.code, events.stderr).toBe(0);
    const trail = JSON.parse(events.stdout) as { seq: number; status: EventStatus; stepId: string | null }[];
    expect(trail.map((e) => e.status)).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING',
      'STEP_SUCCESS',
      'STEP_PENDING',
      'STEP_SUCCESS',
      'STEP_PENDING',
      'STEP_SUCCESS',
      'SAGA_COMMITTED',
    ]);
    expect(checkEventSequence(trail).errors).toEqual([]);

    const sql = await pool.query<{ status: string; step_id: string | null }>(
      'SELECT status, step_id FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      [sagaId],
    );
    expect(sql.rows.map((r) => r.status)).toEqual(trail.map((e) => e.status));
    expect(sql.rows.filter((r) => r.status === 'STEP_SUCCESS').map((r) => r.step_id)).toEqual([
      'row',
      'node',
      'audit-row',
    ]);

    const table_ = await polysaga(['events', sagaId], env);
    expect(table_.stdout).toMatch(/SAGA_COMMITTED/);
    const status = await polysaga(['status', sagaId, '--json'], env);
    expect((JSON.parse(status.stdout) as { completedSteps: number }).completedSteps).toBe(3);
  });

  it('a failing saga: start --wait exits 1, earlier writes are undone newest first, the trail says why', async () => {
    const sagaId = `e2e-fail-${run}`;
    const docId = `doc-fail-${run}`;
    const started = await polysaga(
      ['start', definitionFile('fail', ingest(sagaId, docId, true)), '--wait', '--json'],
      env,
    );
    expect(started.code).toBe(1);
    const status = JSON.parse(started.stdout) as { state: string; failedAt: string; error: string };
    expect(status.state).toBe('ROLLED_BACK');
    expect(status.failedAt).toBe('audit-row');
    expect(status.error).toMatch(/ConstraintViolation|duplicate key/);

    const rows = await pool.query(`SELECT id FROM ${table} WHERE id = $1`, [docId]);
    expect(rows.rowCount).toBe(0);
    const driver = neo4j.driver(config.neo4j.url, neo4j.auth.basic(config.neo4j.user, config.neo4j.password));
    try {
      const nodes = await driver.executeQuery('MATCH (n:E2eDoc {id: $id}) RETURN count(n) AS n', {
        id: docId,
      });
      expect(Number(nodes.records[0]?.get('n'))).toBe(0);
    } finally {
      await driver.close();
    }

    const sql = await pool.query<{ status: string; step_id: string | null; error: string | null }>(
      'SELECT status, step_id, error FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      [sagaId],
    );
    const trail = sql.rows.map((r) => `${r.status}${r.step_id ? `:${r.step_id}` : ''}`);
    expect(trail).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:row',
      'STEP_SUCCESS:row',
      'STEP_PENDING:node',
      'STEP_SUCCESS:node',
      'STEP_PENDING:audit-row',
      'STEP_FAIL:audit-row',
      'COMPENSATION_STARTED:node',
      'COMPENSATION_SUCCESS:node',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
    expect(sql.rows.find((r) => r.status === 'STEP_FAIL')?.error).toMatch(
      /duplicate key|ConstraintViolation/,
    );
    const events = await polysaga(['events', sagaId, '--json'], env);
    expect(
      checkEventSequence(
        JSON.parse(events.stdout) as { seq: number; status: EventStatus; stepId: string | null }[],
      ).errors,
    ).toEqual([]);
  });

  it('rejects an invalid definition before anything runs, naming the step and field (exit 2)', async () => {
    const sagaId = `e2e-invalid-${run}`;
    const bad = ingest(sagaId, 'x', false);
    (bad.steps[1] as { operation: string }).operation = 'create_nodes';
    const r = await polysaga(['start', definitionFile('bad', bad)], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/node/);
    expect(r.stderr).toMatch(/operation/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const trail = await pool.query('SELECT 1 FROM uds3_saga_events WHERE saga_id = $1', [sagaId]);
    expect(trail.rowCount).toBe(0);
  });

  it('reports unknown sagas with exit 3 and a one-line error', async () => {
    const r = await polysaga(['status', `no-such-saga-${run}`], env);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(`polysaga: saga not found: no-such-saga-${run}`);
  });
});
