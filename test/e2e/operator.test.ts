/**
 * End to end, as an operator drives them: `abort`, `retry` and `resolve` against a real
 * `polysaga worker` process and the local stack.
 *
 * - abort is refused (exit 1, one line naming the saga state and the command that fits) on a
 *   FAILED, COMMITTED or ROLLED_BACK saga, and changes nothing;
 * - abort of a saga whose step keeps retrying against a backend that is down cancels that step
 *   and rolls the saga back at once, long before the step's retry policy would end;
 * - retry answers at once with the new state while the compensation is still blocked; a
 *   concurrent resolve names COMPENSATING; `retry --wait` prints one line per compensation and
 *   ends with the final state (exit 1 FAILED again, exit 0 ROLLED_BACK once the table is back).
 *
 * FAILED sagas come from a renamed table: the compensation of a row insert fails (missing table,
 * not retried). A compensation is held back by an ACCESS EXCLUSIVE lock on its table.
 * No message may name a Temporal workflow status such as COMPLETED.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { EventStatus } from '../../src/saga/contracts.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { polysaga, startWorker, type CliResult } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().replace(/-/g, '').slice(0, 8);
const env = {
  TEMPORAL_TASK_QUEUE: `polysaga-e2e-ops-${run}`,
  // A service nobody listens on: its requests fail with ECONNREFUSED (transient, retried).
  HTTP_SERVICES: JSON.stringify({ nowhere: { url: 'http://127.0.0.1:9', timeout: '1s' } }),
};
const dir = mkdtempSync(join(tmpdir(), 'polysaga-e2e-ops-'));
const tables: string[] = [];
const started: string[] = [];
let pool: pg.Pool;
let worker: Awaited<ReturnType<typeof startWorker>>;

/** Temporal's workflow status names: never part of what an operator reads. */
const TEMPORAL_STATUS = /\b(COMPLETED|TERMINATED|TIMED_OUT|CANCELED|CONTINUED_AS_NEW)\b/;

function cli(args: string[]): Promise<CliResult> {
  return polysaga(args, env);
}

function definitionFile(def: { sagaId: string }): string {
  started.push(def.sagaId);
  const file = join(dir, `${def.sagaId}.json`);
  writeFileSync(file, JSON.stringify(def, null, 2));
  return file;
}

async function createTable(name: string): Promise<string> {
  const table = `e2e_ops_${run}_${name}`;
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text)`);
  tables.push(table);
  return table;
}

async function trail(
  sagaId: string,
): Promise<{ status: EventStatus; stepId: string | null; error: string | null; seq: number }[]> {
  const r = await pool.query<{
    seq: number;
    status: EventStatus;
    step_id: string | null;
    error: string | null;
  }>('SELECT seq, status, step_id, error FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq', [sagaId]);
  return r.rows.map((e) => ({ seq: Number(e.seq), status: e.status, stepId: e.step_id, error: e.error }));
}

const names = (events: { status: string; stepId: string | null }[]) =>
  events.map((e) => `${e.status}${e.stepId ? `:${e.stepId}` : ''}`);

async function until<T>(
  what: string,
  probe: () => Promise<T | false | null | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stateOf(sagaId: string): Promise<string> {
  const s = await cli(['status', sagaId, '--json']);
  expect(s.code, s.stderr).toBe(0);
  return (JSON.parse(s.stdout) as { state: string }).state;
}

async function rowCount(table: string, id: string): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE id = $1`, [id]);
  return Number(r.rows[0]?.n);
}

/** A row insert, then a call to a service that is down (retried `attempts` times, `interval` apart). */
function rowThenCall(sagaId: string, table: string, attempts: number, interval: string) {
  return {
    name: `e2e-ops-${run}`,
    sagaId,
    steps: [
      {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: sagaId, title: 'doc' } },
        compensation: 'relational_delete',
      },
      {
        id: 'call',
        backend: 'http',
        operation: 'request',
        payload: {
          service: 'nowhere',
          method: 'POST',
          path: '/documents',
          undo: { method: 'DELETE', path: '/documents/1' },
        },
        compensation: 'http_request',
        retry: {
          maximumAttempts: attempts,
          initialInterval: interval,
          maximumInterval: interval,
          backoffCoefficient: 1,
        },
      },
    ],
  };
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 4 });
  const m = await cli(['migrate']);
  expect(m.code, m.stderr).toBe(0);
  worker = await startWorker(env);
});

afterAll(async () => {
  // Leave nothing FAILED or running for other suites: resolve or abort what a failed test left.
  for (const t of tables)
    await pool?.query(`ALTER TABLE IF EXISTS ${t}_off RENAME TO ${t}`).catch(() => undefined);
  for (const id of started) {
    const last = (await trail(id).catch(() => [])).at(-1)?.status;
    if (last === 'SAGA_ROLLED_BACK' || last === 'SAGA_COMMITTED' || last === 'SAGA_RESOLVED') continue;
    await cli(['resolve', id, '--reason', 'e2e cleanup']).catch(() => undefined);
    await cli(['abort', id, '--terminate']).catch(() => undefined);
  }
  await worker?.stop();
  for (const t of tables) await pool?.query(`DROP TABLE IF EXISTS ${t}, ${t}_off`).catch(() => undefined);
  await pool?.end();
});

describe('operator commands', () => {
  it('abort of a COMMITTED saga is refused (exit 1) and points to compensate; nothing changes', async () => {
    const table = await createTable('committed');
    const sagaId = `e2e-ops-committed-${run}`;
    const def = {
      name: `e2e-ops-${run}`,
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 'doc' } },
        },
      ],
    };
    const s = await cli(['start', definitionFile(def), '--wait']);
    expect(s.code, s.stderr).toBe(0);

    const abort = await cli(['abort', sagaId]);
    expect(abort.code).toBe(1);
    expect(abort.stderr.trim().split('\n')).toHaveLength(1);
    expect(abort.stderr).toContain(`saga ${sagaId} is COMMITTED`);
    expect(abort.stderr).toContain(`polysaga compensate ${sagaId}`);
    expect(abort.stdout + abort.stderr).not.toMatch(TEMPORAL_STATUS);
    expect(await stateOf(sagaId)).toBe('COMMITTED');
    expect(await rowCount(table, sagaId)).toBe(1);
    expect(names(await trail(sagaId)).at(-1)).toBe('SAGA_COMMITTED');

    const retry = await cli(['retry', sagaId]);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toMatch(/is COMMITTED, not FAILED/);
    expect(retry.stdout + retry.stderr).not.toMatch(TEMPORAL_STATUS);
  });

  it('abort cancels a step that keeps retrying against a backend that is down: ROLLED_BACK at once', async () => {
    const table = await createTable('retrying');
    const sagaId = `e2e-ops-retrying-${run}`;
    // 60 attempts 2 s apart: the step's retry policy alone would take two minutes.
    const s = await cli(['start', definitionFile(rowThenCall(sagaId, table, 60, '2s'))]);
    expect(s.code, s.stderr).toBe(0);
    await until('the call step to retry', async () =>
      names(await trail(sagaId)).includes('STEP_PENDING:call'),
    );
    await new Promise((r) => setTimeout(r, 3_000)); // two or three failed attempts
    expect(await rowCount(table, sagaId)).toBe(1);

    const t0 = Date.now();
    const abort = await cli(['abort', sagaId, '--reason', 'service down', '--wait']);
    const elapsed = Date.now() - t0;
    expect(abort.code, abort.stderr).toBe(0);
    const lines = abort.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `saga ${sagaId}: EXECUTING, abort accepted: it stops and undoes its completed steps, newest first`,
    );
    expect(lines.at(-1)).toBe(`saga ${sagaId}: ROLLED_BACK`);
    // Measured in the store (the CLI's own start-up time depends on the machine's load): from the
    // step's write-ahead row to the end of the unwind, far less than the step's retry policy.
    const times = await pool.query<{ status: string; step_id: string | null; t: Date }>(
      'SELECT status, step_id, created_at AS t FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      [sagaId],
    );
    const at = (status: string, step: string | null) =>
      times.rows.find((r) => r.status === status && r.step_id === step)!.t.getTime();
    expect(at('SAGA_ROLLED_BACK', null) - at('STEP_PENDING', 'call')).toBeLessThan(60_000);
    expect(elapsed).toBeLessThan(60_000);
    expect(abort.stdout + abort.stderr).not.toMatch(TEMPORAL_STATUS);

    // The earlier step is undone in the real store; the trail says the abort took effect.
    expect(await rowCount(table, sagaId)).toBe(0);
    const events = await trail(sagaId);
    expect(names(events).slice(-6)).toEqual([
      'STEP_PENDING:call',
      'STEP_FAIL:call',
      'SAGA_ABORTED',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
    expect(events.find((e) => e.status === 'STEP_FAIL')?.error).toMatch(
      /cancelled by abort|ECONNREFUSED|connect/,
    );
    expect(checkEventSequence(events).errors).toEqual([]);
  });

  it('abort on FAILED is refused; retry answers at once; retry --wait follows each compensation', async () => {
    const table = await createTable('failed');
    const a = `e2e-ops-failed-a-${run}`;
    const b = `e2e-ops-failed-b-${run}`;
    // Started together; the calls retry for about 15 s, long enough to rename the table meanwhile.
    const starts = await Promise.all(
      [a, b].map((id) => cli(['start', definitionFile(rowThenCall(id, table, 15, '1s'))])),
    );
    for (const s of starts) expect(s.code, s.stderr).toBe(0);
    // While the calls retry, take the table away: the rows' compensations then fail.
    for (const id of [a, b])
      await until(`STEP_SUCCESS of row (${id})`, async () =>
        names(await trail(id)).includes('STEP_SUCCESS:row'),
      );
    await pool.query(`ALTER TABLE ${table} RENAME TO ${table}_off`);
    for (const id of [a, b])
      await until(`SAGA_FAILED (${id})`, async () => names(await trail(id)).at(-1) === 'SAGA_FAILED', 90_000);
    expect(await stateOf(a)).toBe('FAILED');

    // abort: refused, naming the state and the commands that fit; nothing is recorded.
    const abort = await cli(['abort', a]);
    expect(abort.code).toBe(1);
    expect(abort.stderr.trim().split('\n')).toHaveLength(1);
    expect(abort.stderr).toContain(`saga ${a} is FAILED`);
    expect(abort.stderr).toContain(`polysaga retry ${a}`);
    expect(abort.stderr).toContain(`polysaga resolve ${a}`);
    expect(abort.stdout + abort.stderr).not.toMatch(TEMPORAL_STATUS);
    expect(await stateOf(a)).toBe('FAILED');
    expect(names(await trail(a))).not.toContain('SAGA_ABORTED');

    // retry --wait while the table is still missing: a line for the compensation, FAILED again, exit 1.
    const broken = await cli(['retry', a, '--wait']);
    expect(broken.code, broken.stderr).toBe(1);
    const bl = broken.stdout.trim().split('\n');
    expect(bl[0]).toMatch(
      new RegExp(`^saga ${a}: FAILED → (COMPENSATING|FAILED) \\(retrying 1 failed compensation: row\\)$`),
    );
    expect(bl[1]).toMatch(/^compensation row failed: .*(does not exist|UnknownTable|42P01)/);
    expect(bl.at(-1)).toMatch(new RegExp(`^saga ${a}: FAILED: compensation failed for: row`));
    expect(broken.stdout + broken.stderr).not.toMatch(TEMPORAL_STATUS);

    // The table is back but locked: a compensation now blocks until the lock is released.
    await pool.query(`ALTER TABLE ${table}_off RENAME TO ${table}`);
    const locker = await pool.connect();
    let locked = true;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);

      // retry answers at once with the new state while the round is still running.
      const t0 = Date.now();
      const quick = await cli(['retry', b]);
      expect(quick.code, quick.stderr).toBe(0);
      expect(quick.stdout.trim()).toBe(
        `saga ${b}: FAILED → COMPENSATING (retrying 1 failed compensation: row)`,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(await stateOf(b)).toBe('COMPENSATING');
      // resolve during the round names the state and says to wait.
      const resolve = await cli(['resolve', b, '--reason', 'too early']);
      expect(resolve.code).toBe(1);
      expect(resolve.stderr).toMatch(
        new RegExp(`saga ${b} is COMPENSATING, not FAILED.*wait until it settles`),
      );
      expect(resolve.stdout + resolve.stderr).not.toMatch(TEMPORAL_STATUS);

      // retry --wait follows the round: nothing until the lock goes, then one line per compensation.
      const waiting = cli(['retry', a, '--wait']);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await stateOf(a)).toBe('COMPENSATING');
      await locker.query('COMMIT');
      locked = false;
      const fixed = await waiting;
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(fixed.stdout.trim().split('\n')).toEqual([
        `saga ${a}: FAILED → COMPENSATING (retrying 1 failed compensation: row)`,
        'compensation row undone',
        `saga ${a}: ROLLED_BACK`,
      ]);
      expect(fixed.stdout + fixed.stderr).not.toMatch(TEMPORAL_STATUS);
    } finally {
      if (locked) await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
    }

    await until(`ROLLED_BACK (${b})`, async () => (await stateOf(b)) === 'ROLLED_BACK');
    for (const id of [a, b]) {
      expect(await rowCount(table, id)).toBe(0);
      const events = await trail(id);
      expect(checkEventSequence(events).errors).toEqual([]);
      expect(names(events).slice(-4)).toEqual([
        'SAGA_RETRIED',
        'COMPENSATION_STARTED:row',
        'COMPENSATION_SUCCESS:row',
        'SAGA_ROLLED_BACK',
      ]);
    }

    // Ended: abort and retry name ROLLED_BACK, not the workflow's status.
    const late = await cli(['abort', a]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain(`saga ${a} is ROLLED_BACK: it has ended`);
    const lateRetry = await cli(['retry', a]);
    expect(lateRetry.code).toBe(1);
    expect(lateRetry.stderr).toContain(`saga ${a} is ROLLED_BACK: it has ended`);
    expect(late.stdout + late.stderr + lateRetry.stdout + lateRetry.stderr).not.toMatch(TEMPORAL_STATUS);
  });
});
