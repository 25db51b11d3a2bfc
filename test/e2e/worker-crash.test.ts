/**
 * Fault: the worker process is killed (SIGKILL) while a step's remote call is in flight. A new
 * worker picks the saga up: the step is retried with the same idempotency key, the saga
 * commits, and the audit trail still has exactly one row per transition.
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
import type { EventStatus } from '../../src/saga/contracts.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { polysaga, startWorker } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const table = `e2e_crash_${run}`;
const sagaId = `e2e-crash-${run}`;
const requests: { idempotencyKey: string | undefined }[] = [];
let holdFirst: (() => void) | undefined;
let firstArrived: Promise<void>;
let server: Server;
let pool: pg.Pool;

beforeAll(async () => {
  let arrived!: () => void;
  firstArrived = new Promise((r) => (arrived = r));
  // A service whose first call hangs (the worker will die while waiting); later calls answer.
  server = createServer((req: IncomingMessage, res) => {
    requests.push({ idempotencyKey: req.headers['idempotency-key'] as string | undefined });
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    };
    if (requests.length === 1) {
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

    const first = await startWorker(env);
    const started = await polysaga(['start', file, '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    await firstArrived;
    first.child.kill('SIGKILL');
    await first.stop();

    const second = await startWorker(env);
    try {
      const status = await polysaga(['status', sagaId, '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      // Wait for the saga to finish on the new worker.
      let state = '';
      for (let i = 0; i < 60 && state !== 'COMMITTED'; i++) {
        const s = await polysaga(['status', sagaId, '--json'], env);
        state = (JSON.parse(s.stdout) as { state: string }).state;
        if (state !== 'COMMITTED') await new Promise((r) => setTimeout(r, 1000));
      }
      expect(state).toBe('COMMITTED');
    } finally {
      await second.stop();
    }

    // The remote call was retried with the same idempotency key; the row exists once.
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(requests.map((r) => r.idempotencyKey))).toEqual(new Set([`${sagaId}:call`]));
    const rows = await pool.query(`SELECT id FROM ${table}`);
    expect(rows.rows).toEqual([{ id: run }]);

    const trail = await pool.query<{ seq: number; status: EventStatus; step_id: string | null }>(
      'SELECT seq, status, step_id FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      [sagaId],
    );
    expect(trail.rows.map((r) => r.seq)).toEqual(trail.rows.map((_, i) => i + 1));
    expect(trail.rows.map((r) => `${r.status}${r.step_id ? `:${r.step_id}` : ''}`)).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:row',
      'STEP_SUCCESS:row',
      'STEP_PENDING:call',
      'STEP_SUCCESS:call',
      'SAGA_COMMITTED',
    ]);
    const check = checkEventSequence(
      trail.rows.map((r) => ({ seq: r.seq, status: r.status, stepId: r.step_id })),
    );
    expect(check.errors).toEqual([]);
  });
});
