/**
 * Several workers on one task queue (docs/deployment.md): two `polysaga worker` processes poll
 * the same TEMPORAL_TASK_QUEUE, sagas run on both, one worker is killed (SIGKILL) while its
 * steps are in flight, and every saga finishes COMMITTED on the other: every row once in
 * PostgreSQL, the remote call retried with the same idempotency key, one audit row per transition.
 *
 * Each worker reaches the `slow` HTTP service on its own port, so the test knows which worker
 * made each call; the calls are held until the kill.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTemporalClient, SagaClient, type ConnectedTemporalClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startWorker } from '../helpers/cli.js';
import { checkTrails, trailLines } from '../helpers/trail.js';

type WorkerName = 'A' | 'B';
interface Call {
  worker: WorkerName;
  method: string | undefined;
  idempotencyKey: string | undefined;
  sagaId: string;
}

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-e2e-shared-${run}`;
const first = `e2e_shared_${run}`;
const last = `e2e_shared_done_${run}`;
const calls: Call[] = [];
const held: { call: Call; answer: () => void }[] = [];
let holding = true;
const servers: Record<WorkerName, Server | undefined> = { A: undefined, B: undefined };
let pool: pg.Pool;
let connected: ConnectedTemporalClient;
let sagas: SagaClient;

function handler(worker: WorkerName) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const call: Call = {
        worker,
        method: req.method,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        sagaId: (JSON.parse(body || '{}') as { id?: string }).id ?? '',
      };
      calls.push(call);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      };
      if (holding) held.push({ call, answer });
      else answer();
    });
  };
}

async function listen(worker: WorkerName): Promise<number> {
  const server = createServer(handler(worker));
  servers[worker] = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${first} (id text PRIMARY KEY)`);
  await pool.query(`CREATE TABLE ${last} (id text PRIMARY KEY)`);
  connected = await connectTemporalClient(config);
  sagas = new SagaClient({ client: connected.client, taskQueue });
});

afterAll(async () => {
  holding = false;
  for (const h of held) h.answer();
  for (const s of Object.values(servers)) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
  await connected?.close();
  await pool?.query(`DROP TABLE IF EXISTS ${first}`);
  await pool?.query(`DROP TABLE IF EXISTS ${last}`);
  await pool?.end();
});

const definition = (sagaId: string) => ({
  name: 'e2e-shared-queue',
  sagaId,
  steps: [
    {
      id: 'row',
      backend: 'postgres',
      operation: 'insert',
      payload: { table: first, values: { id: sagaId } },
    },
    {
      id: 'call',
      backend: 'http',
      operation: 'request',
      payload: { service: 'slow', method: 'POST', path: '/work', body: { id: sagaId } },
      compensation: { operation: 'request', payload: { service: 'slow', method: 'DELETE', path: '/work' } },
      timeout: '4s',
      retry: { initialInterval: '200ms', maximumAttempts: 10 },
    },
    {
      id: 'done',
      backend: 'postgres',
      operation: 'insert',
      payload: { table: last, values: { id: sagaId } },
    },
  ],
});

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('two workers on one task queue', () => {
  it('one is killed mid-saga: every saga finishes COMMITTED on the other, once', async () => {
    const env = (port: number) => ({
      TEMPORAL_TASK_QUEUE: taskQueue,
      HTTP_SERVICES: JSON.stringify({ slow: { url: `http://127.0.0.1:${port}`, timeout: '4s' } }),
    });
    const a = await startWorker(env(await listen('A')));
    const b = await startWorker(env(await listen('B')));
    const ids: string[] = [];
    try {
      // Start sagas until both workers hold at least one call in flight (at least 4 sagas).
      const heldOn = (w: WorkerName) => held.filter((h) => h.call.worker === w).length;
      for (let i = 0; i < 16 && (ids.length < 4 || heldOn('A') === 0 || heldOn('B') === 0); i++) {
        const id = `e2e-shared-${run}-${i}`;
        ids.push(id);
        await sagas.createSaga(definition(id));
        await until(`the call of ${id}`, () => held.some((h) => h.call.sagaId === id), 30_000);
      }
      const onA = held.filter((h) => h.call.worker === 'A').map((h) => h.call.sagaId);
      expect(onA.length, 'worker A holds a call').toBeGreaterThan(0);
      expect(heldOn('B'), 'worker B holds a call').toBeGreaterThan(0);

      // A dies with its calls in flight; B's held calls answer; every later call answers at once.
      a.child.kill('SIGKILL');
      await a.stop();
      holding = false;
      for (const h of held) h.answer();

      const results = await Promise.all(ids.map((id) => sagas.waitForResult(id)));
      expect(results.map((r) => r.status.state)).toEqual(ids.map(() => 'COMMITTED'));

      // A's calls were made again, by B, with the same idempotency key.
      for (const id of onA) {
        const again = calls.filter((c) => c.sagaId === id && c.worker === 'B');
        expect(again.length, `${id}'s call retried on B`).toBeGreaterThan(0);
        expect(new Set(calls.filter((c) => c.sagaId === id).map((c) => c.idempotencyKey))).toEqual(
          new Set([`${id}:call`]),
        );
      }
      // Nothing ran on A after the kill.
      const afterKill = calls.slice(held.length);
      expect(afterKill.filter((c) => c.worker === 'A')).toEqual([]);
    } finally {
      // (a's stop() resolves once only: after SIGKILL its exitCode stays null)
      if (a.child.exitCode === null && a.child.signalCode === null) await a.stop();
      await b.stop();
    }

    // Every row once in the real store, one audit row per transition.
    const rows = async (table: string) =>
      (await pool.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);
    expect(await rows(first)).toEqual([...ids].sort());
    expect(await rows(last)).toEqual([...ids].sort());
    const { problems, trails } = await checkTrails(pool, ids);
    expect(problems).toEqual([]);
    for (const id of ids) {
      expect(trailLines(trails.get(id)!)).toEqual([
        'SAGA_STARTED',
        'STEP_PENDING:row',
        'STEP_SUCCESS:row',
        'STEP_PENDING:call',
        'STEP_SUCCESS:call',
        'STEP_PENDING:done',
        'STEP_SUCCESS:done',
        'SAGA_COMMITTED',
      ]);
    }
  });
});
