/**
 * Fault: the worker process is killed (SIGKILL) while a step's remote call is in flight, and
 * while a compensation's remote call is in flight. A new worker picks the saga up: the step or
 * compensation runs again with the same idempotency key, the saga ends COMMITTED or ROLLED_BACK,
 * and the audit trail still has exactly one row per transition.
 * Part of the fault suite (docs/faults.md); it runs in the `faults` project.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { polysaga, startWorker } from '../helpers/cli.js';
import { readTrails, trailLines, trailProblems } from '../helpers/trail.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const table = `e2e_crash_${run}`;
const sagaId = `e2e-crash-${run}`;
const requests: { method: string | undefined; idempotencyKey: string | undefined }[] = [];
let holdFirst: (() => void) | undefined;
let firstArrived: Promise<void>;
let arrived!: () => void;
/** The first request with this method hangs (the worker dies while waiting); later ones answer. */
let holdMethod = 'POST';
function holdNext(method: string): void {
  holdMethod = method;
  holdFirst = undefined;
  firstArrived = new Promise((r) => (arrived = r));
}
let server: Server;
let pool: pg.Pool;

beforeAll(async () => {
  holdNext('POST');
  server = createServer((req: IncomingMessage, res) => {
    requests.push({
      method: req.method,
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    });
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    };
    if (req.method === holdMethod && holdFirst === undefined) {
      holdFirst = answer;
      arrived();
    } else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
});

afterAll(async () => {
  holdFirst?.();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

/** Starts the saga in `file` on a worker, kills that worker (SIGKILL) during the held call, starts another. */
async function crashDuringHeldCall(file: string, env: Record<string, string>) {
  const first = await startWorker(env);
  const started = await polysaga(['start', file, '--json'], env);
  expect(started.code, started.stderr).toBe(0);
  await firstArrived;
  first.child.kill('SIGKILL');
  await first.stop();
  return startWorker(env);
}

/** Polls `polysaga status` until the saga is in `state` (or the tries run out); returns the last state. */
async function waitForState(id: string, env: Record<string, string>, state: string, tries: number) {
  let last = '';
  for (let i = 0; i < tries && last !== state; i++) {
    const s = await polysaga(['status', id, '--json'], env);
    if (s.code === 0) last = (JSON.parse(s.stdout) as { state: string }).state;
    if (last !== state) await new Promise((r) => setTimeout(r, 1000));
  }
  return last;
}

/** The saga's audit trail as `STATUS:step` lines, checked to be a valid sequence (test/helpers/trail.ts). */
async function trailOf(id: string): Promise<string[]> {
  const rows = (await readTrails(pool, [id])).get(id) ?? [];
  expect(trailProblems(rows)).toEqual([]);
  return trailLines(rows);
}

describe('worker killed mid-step', () => {
  it('resumes on a new worker: one effect, one row per transition, COMMITTED', async () => {
    const port = (server.address() as AddressInfo).port;
    const env = {
      TEMPORAL_TASK_QUEUE: `polysaga-e2e-crash-${run}`,
      HTTP_SERVICES: JSON.stringify({ slow: { url: `http://127.0.0.1:${port}`, timeout: '4s' } }),
    };
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-crash-'));
    const file = join(dir, 'saga.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'e2e-crash',
        sagaId,
        steps: [
          { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id: run } } },
          {
            id: 'call',
            backend: 'http',
            operation: 'request',
            payload: { service: 'slow', method: 'POST', path: '/work', body: { id: run } },
            compensation: null,
            kind: 'pivot',
            timeout: '4s',
            retry: { initialInterval: '200ms', maximumAttempts: 5 },
          },
        ],
      }),
    );

    const second = await crashDuringHeldCall(file, env);
    try {
      const status = await polysaga(['status', sagaId, '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      // Wait for the saga to finish on the new worker.
      expect(await waitForState(sagaId, env, 'COMMITTED', 60)).toBe('COMMITTED');
    } finally {
      await second.stop();
    }

    // The remote call was retried with the same idempotency key; the row exists once.
    const posts = requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(posts.map((r) => r.idempotencyKey))).toEqual(new Set([`${sagaId}:call`]));
    const rows = await pool.query(`SELECT id FROM ${table}`);
    expect(rows.rows).toEqual([{ id: run }]);

    expect(await trailOf(sagaId)).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:row',
      'STEP_SUCCESS:row',
      'STEP_PENDING:call',
      'STEP_SUCCESS:call',
      'SAGA_COMMITTED',
    ]);
  });
});

describe('worker killed mid-compensation', () => {
  it('the unwind resumes on a new worker: each undo once per key, one row per transition, ROLLED_BACK', async () => {
    const id = `${sagaId}-comp`;
    holdNext('DELETE');
    const port = (server.address() as AddressInfo).port;
    const env = {
      TEMPORAL_TASK_QUEUE: `polysaga-e2e-crash-comp-${run}`,
      HTTP_SERVICES: JSON.stringify({ slow: { url: `http://127.0.0.1:${port}`, timeout: '4s' } }),
    };
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-crash-comp-'));
    const file = join(dir, 'saga.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'e2e-crash',
        sagaId: id,
        steps: [
          { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id } } },
          {
            id: 'call',
            backend: 'http',
            operation: 'request',
            payload: { service: 'slow', method: 'POST', path: '/work', body: { id } },
            // The undo hangs on its first try: the worker is killed during it.
            compensation: {
              operation: 'request',
              payload: { service: 'slow', method: 'DELETE', path: '/work' },
            },
          },
          // A duplicate row: a permanent failure, so the saga unwinds.
          { id: 'dup', backend: 'postgres', operation: 'insert', payload: { table, values: { id } } },
        ],
      }),
    );

    const second = await crashDuringHeldCall(file, env);
    try {
      expect(await waitForState(id, env, 'ROLLED_BACK', 90)).toBe('ROLLED_BACK');
    } finally {
      await second.stop();
    }

    // The undo ran again with its own idempotency key; the row is gone.
    const deletes = requests.filter((r) => r.method === 'DELETE');
    expect(deletes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(deletes.map((r) => r.idempotencyKey))).toEqual(new Set([`${id}:call:compensation`]));
    expect((await pool.query(`SELECT id FROM ${table} WHERE id = $1`, [id])).rows).toEqual([]);

    expect(await trailOf(id)).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:row',
      'STEP_SUCCESS:row',
      'STEP_PENDING:call',
      'STEP_SUCCESS:call',
      'STEP_PENDING:dup',
      'STEP_FAIL:dup',
      'COMPENSATION_STARTED:call',
      'COMPENSATION_SUCCESS:call',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
  });
});
