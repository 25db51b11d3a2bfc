/**
 * The contenders of `npm run bench`, each doing the same 4 writes (3 PostgreSQL rows + 1 Redis
 * key) and, in the rollback variant, failing at the 4th write (a duplicate row: permanent) so
 * that the 3 rows are deleted newest-first:
 *
 *   direct    the writes with the drivers, no Temporal (the floor)
 *   bare      bench/bare: a Temporal saga in the style of Temporal's saga sample, own worker and queue
 *   polysaga  the same writes as a polysaga definition, SagaClient.executeSaga, createSagaWorker
 *   fast      the same definition with `"execution": "fast"` (local activities), when the build has it
 *
 * Every saga key is `bench-<runId>-<contender>-…`; workflow ids and saga ids are the key, rows
 * are `<key>:1..3` in the bench table and the Redis key is `bench:<runId>:<key>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import { createPgPool } from '../src/backends/postgres/adapter.js';
import { createRedisClient, type RedisClient } from '../src/backends/kv/adapter.js';
import { createDataConverter } from '../src/blobs/index.js';
import { SagaClient } from '../src/client/index.js';
import { temporalConnectionOptions } from '../src/client/connect.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { createSagaWorker, type SagaWorker } from '../src/workers/index.js';
import { createBareActivities } from './bare/activities.js';
import type { bareSaga, parkedWorkflow } from './bare/workflows.js';
import type { ContenderKey } from './options.js';
import { mapLimit } from './stats.js';

/** What every contender shares: the run's names, configuration and the bench's own clients. */
export interface BenchContext {
  runId: string;
  /** The bench table `(id text PRIMARY KEY, saga text, v int)`, dropped at the end. */
  table: string;
  config: Config;
  client: Client;
  pool: pg.Pool;
  redis: RedisClient;
}

/** The Redis key a saga writes. */
export function redisKeyOf(ctx: BenchContext, key: string): string {
  return `bench:${ctx.runId}:${key}`;
}

/** How a contender parks sagas for the memory figure. */
export interface Parking {
  /** One sentence for the report: what a parked saga is waiting for. */
  how: string;
  /** Starts the parking worker (not counted in the memory delta). */
  prepare(count: number): Promise<void>;
  /** Starts one parked saga. */
  start(key: string): Promise<void>;
  /** How many sagas have reached their parked state. */
  reached(): number;
  /** Workflows the parking worker holds in its cache. */
  cached(): number;
  /** Terminates the parked sagas, releases what they wait for and stops the parking worker. */
  release(keys: string[]): Promise<void>;
}

/** One contender. */
export interface Contender {
  key: ContenderKey;
  label: string;
  /** Set by `setup` when this build cannot run the contender (the row prints n/a). */
  unsupported: string | null;
  setup(): Promise<void>;
  /**
   * Runs one saga to its end. Resolves when it ended as expected (committed, or rolled back
   * when `fail`); throws otherwise.
   */
  run(key: string, fail: boolean): Promise<void>;
  /** Workflow id of the saga `key` (null: not a Temporal contender). */
  workflowId(key: string): string | null;
  parking: Parking | null;
  teardown(): Promise<void>;
}

/** Terminates workflows by id, ignoring those already closed. */
export async function terminateAll(client: Client, ids: string[], reason: string): Promise<void> {
  await mapLimit(ids, 100, (id) => client.workflow.getHandle(id).terminate(reason));
}

async function insertRow(ctx: BenchContext, id: string, saga: string, v: number): Promise<void> {
  await ctx.pool.query(`INSERT INTO ${ctx.table} (id, saga, v) VALUES ($1, $2, $3)`, [id, saga, v]);
}

/** The writes with the drivers, undone by hand: the floor under every saga. */
export function directContender(ctx: BenchContext): Contender {
  return {
    key: 'direct',
    label: 'writes called directly',
    unsupported: null,
    parking: null,
    async setup() {},
    async run(key, fail) {
      const done: string[] = [];
      try {
        for (const n of [1, 2, 3]) {
          await insertRow(ctx, `${key}:${n}`, key, n);
          done.unshift(`${key}:${n}`);
        }
        if (fail) await insertRow(ctx, `${key}:1`, key, 4);
        else await ctx.redis.set(redisKeyOf(ctx, key), key);
      } catch (err) {
        if (!fail || (err as { code?: string }).code !== '23505') throw err;
        for (const id of done) await ctx.pool.query(`DELETE FROM ${ctx.table} WHERE id = $1`, [id]);
      }
    },
    workflowId: () => null,
    async teardown() {},
  };
}

/** The bare Temporal saga of bench/bare on its own worker, task queue and clients. */
export function bareContender(ctx: BenchContext): Contender {
  const taskQueue = `bench-bare-${ctx.runId}`;
  const workflowsPath = fileURLToPath(new URL('./bare/workflows.ts', import.meta.url));
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let pool: pg.Pool | undefined;
  let redis: RedisClient | undefined;
  let park: { worker: Worker; running: Promise<void>; queue: string } | undefined;
  // ctx.client encodes with polysaga's data converter (encryption when keys are configured):
  // the bare workers decode with the same one.
  const dataConverter = () =>
    createDataConverter({
      pool: (pool ??= createPgPool(ctx.config.postgres)),
      thresholdBytes: ctx.config.payloads.thresholdBytes,
      keys: ctx.config.codec.keys,
    });

  const parking: Parking = {
    how:
      'a workflow waiting for a signal (condition on releaseSignal), its first workflow task done; ' +
      'the parking worker (this figure only) has cache room for all of them.',
    async prepare(count) {
      const queue = `${taskQueue}-park`;
      const w = await Worker.create({
        connection: connection!,
        namespace: ctx.config.temporal.namespace,
        taskQueue: queue,
        workflowsPath,
        activities: {},
        dataConverter: dataConverter(),
        maxCachedWorkflows: count + 100,
      });
      park = { worker: w, running: w.run(), queue };
    },
    async start(key) {
      await ctx.client.workflow.start<typeof parkedWorkflow>('parkedWorkflow', {
        taskQueue: park!.queue,
        workflowId: key,
      });
    },
    reached: () => park?.worker.getStatus().numCachedWorkflows ?? 0,
    cached: () => park?.worker.getStatus().numCachedWorkflows ?? 0,
    async release(keys) {
      await terminateAll(ctx.client, keys, 'bench: parked workflow released');
      if (park) {
        park.worker.shutdown();
        await park.running.catch(() => undefined);
        park = undefined;
      }
    },
  };

  return {
    key: 'bare',
    label: 'bare Temporal saga (saga-sample style)',
    unsupported: null,
    parking,
    async setup() {
      connection = await NativeConnection.connect(temporalConnectionOptions(ctx.config));
      pool ??= createPgPool(ctx.config.postgres);
      redis = await createRedisClient(ctx.config.redis.url);
      worker = await Worker.create({
        connection,
        namespace: ctx.config.temporal.namespace,
        taskQueue,
        workflowsPath,
        dataConverter: dataConverter(),
        activities: createBareActivities({ pool, redis, table: ctx.table }),
      });
      running = worker.run();
    },
    async run(key, fail) {
      const handle = await ctx.client.workflow.start<typeof bareSaga>('bareSaga', {
        taskQueue,
        workflowId: key,
        args: [{ key, redisKey: redisKeyOf(ctx, key), fail }],
      });
      try {
        await handle.result();
      } catch (err) {
        if (fail && err instanceof WorkflowFailedError) return;
        throw err;
      }
      if (fail) throw new Error(`bare saga ${key} completed although its 4th write fails`);
    },
    workflowId: (key) => key,
    async teardown() {
      if (park) await parking.release([]);
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running?.catch(() => undefined);
      await pool?.end();
      await redis?.quit().catch(() => undefined);
      await connection?.close();
    },
  };
}

/** The 4-write saga as a polysaga definition (`execution: 'fast'` for fast mode). */
export function sagaDefinition(ctx: BenchContext, key: string, fail: boolean, fast: boolean) {
  const row = (n: number, v: number) => ({
    id: n <= 3 ? `row${n}` : 'duplicate',
    backend: 'postgres',
    operation: 'insert',
    payload: { table: ctx.table, values: { id: `${key}:${n <= 3 ? n : 1}`, saga: key, v } },
    compensation: 'relational_delete',
  });
  return {
    name: 'bench',
    sagaId: key,
    ...(fast ? { execution: 'fast' } : {}),
    steps: [
      row(1, 1),
      row(2, 2),
      row(3, 3),
      // The failing variant inserts row 1 again: a duplicate key, which polysaga maps to a permanent error.
      fail
        ? row(4, 4)
        : { id: 'key', backend: 'kv', operation: 'set', payload: { key: redisKeyOf(ctx, key), value: key } },
    ],
  };
}

/**
 * A local HTTP service that answers every request with 503 (transient: polysaga retries it)
 * and counts the distinct paths it saw (the parked polysaga step reached it).
 */
function busyService() {
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    seen.add(req.url ?? '');
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' }).end('busy');
  });
  return {
    received: () => seen.size,
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** polysaga (regular or fast mode) on an in-process worker from createSagaWorker. */
export function polysagaContender(ctx: BenchContext, fast: boolean): Contender {
  const taskQueue = `bench-polysaga-${ctx.runId}${fast ? '-fast' : ''}`;
  let worker: SagaWorker | undefined;
  let running: Promise<void> | undefined;
  let sagas: SagaClient | undefined;
  let park:
    | { worker: SagaWorker; running: Promise<void>; busy: ReturnType<typeof busyService>; sagas: SagaClient }
    | undefined;

  const parking: Parking = {
    how:
      'polysaga has no wait-for-signal step, so a parked saga is one whose only step (http.request to a ' +
      'local service that answers 503, a transient error) waits for its next attempt in 30 minutes: the ' +
      'saga sits in the worker cache waiting on the outside world with nothing running, as the bare ' +
      'workflow waits for a signal. The parking worker (this figure only) has cache room for all of them.',
    async prepare(count) {
      const busy = busyService();
      const url = await busy.listen();
      const services = { ...ctx.config.http.services, benchbusy: { url, timeout: '10s' } };
      const env = { ...process.env, HTTP_SERVICES: JSON.stringify(services) };
      const queue = `${taskQueue}-park`;
      const w = await createSagaWorker({
        config: loadConfig(env),
        taskQueue: queue,
        worker: { maxCachedWorkflows: count + 100 },
      });
      park = {
        worker: w,
        running: w.run(),
        busy,
        sagas: new SagaClient({ client: ctx.client, taskQueue: queue, origin: 'bench' }),
      };
    },
    async start(key) {
      await park!.sagas.createSaga({
        name: 'bench-park',
        sagaId: key,
        ...(fast ? { execution: 'fast' } : {}),
        steps: [
          {
            id: 'wait',
            backend: 'http',
            operation: 'request',
            kind: 'pivot',
            payload: { service: 'benchbusy', method: 'POST', path: `/wait/${key}` },
            // 503 is transient: the next attempt is 30 minutes away, so the saga waits in the cache.
            retry: { initialInterval: '30m', maximumInterval: '30m', maximumAttempts: 0 },
          },
        ],
      });
    },
    reached: () => park?.busy.received() ?? 0,
    cached: () => park?.worker.worker.getStatus().numCachedWorkflows ?? 0,
    async release(keys) {
      await terminateAll(ctx.client, keys, 'bench: parked saga released');
      if (park) {
        await park.busy.close();
        await park.worker.shutdown();
        await park.running.catch(() => undefined);
        park = undefined;
      }
    },
  };

  return {
    key: fast ? 'fast' : 'polysaga',
    label: fast ? 'polysaga fast mode' : 'polysaga',
    unsupported: null,
    parking,
    async setup() {
      const probe = new SagaClient({ client: ctx.client, taskQueue, origin: 'bench' });
      if (fast) {
        try {
          await probe.validate(sagaDefinition(ctx, `bench-${ctx.runId}-probe`, false, true));
        } catch (err) {
          this.unsupported = `not supported by this build (${(err as Error).message.split('\n')[0]})`;
          return;
        }
      }
      worker = await createSagaWorker({ config: ctx.config, taskQueue });
      running = worker.run();
      sagas = probe;
    },
    async run(key, fail) {
      const r = await sagas!.executeSaga(sagaDefinition(ctx, key, fail, fast));
      const want = fail ? 'ROLLED_BACK' : 'COMMITTED';
      if (r.status.state !== want)
        throw new Error(`saga ${key} ended ${r.status.state}${r.status.error ? `: ${r.status.error}` : ''}`);
    },
    workflowId: (key) => key,
    async teardown() {
      if (park) await parking.release([]);
      await worker?.shutdown();
      await running?.catch(() => undefined);
    },
  };
}
