/**
 * Load with injected failures: LOAD_SAGAS sagas (1000) with IN_FLIGHT (75) running at a time, on
 * one `polysaga worker` process, in the standard execution mode. Each writes a PostgreSQL row, a
 * Redis key and a second row; 10% of them (chosen with a seeded PRNG, so every run is the same)
 * get an extra step at a random position that fails permanently (an insert whose key already
 * exists), so they unwind whatever they had written. Checked in the stores: every saga ended
 * in the expected state (COMMITTED or ROLLED_BACK), exactly the committed sagas' rows and keys
 * exist, and every audit trail is a valid sequence with no duplicated transition.
 */
import type pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { checkTrails, trailLines } from '../helpers/trail.js';
import { dataPool, loadConfig, runId, sagaClient, startCliWorker, workerEnv, type Sagas } from './support.js';

const LOAD_SAGAS = 1000;
const IN_FLIGHT = 75;
const FAILURE_RATE = 0.1;
const SEED = 20261201;
const run = runId();
const tableA = `fault_load_a_${run}`;
const tableB = `fault_load_b_${run}`;
const keyPrefix = `faults:load:${run}:`;
/** The key of the row every failing step tries to insert again. */
const TAKEN = 'taken';

let config: Config;
let pool: pg.Pool;
let redis: ReturnType<typeof createClient>;
let sagas: Sagas;
let worker: Awaited<ReturnType<typeof startCliWorker>>;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Planned {
  sagaId: string;
  /** Index in `steps` of the failing step, or null for a saga that commits. */
  failAt: number | null;
  definition: object;
}

/** The sagas of this run: which fail and where, decided by the seeded PRNG. */
function plan(): Planned[] {
  const rnd = prng(SEED);
  const failing = new Set<number>();
  const count = Math.round(LOAD_SAGAS * FAILURE_RATE);
  while (failing.size < count) failing.add(Math.floor(rnd() * LOAD_SAGAS));
  return Array.from({ length: LOAD_SAGAS }, (_, i) => {
    const sagaId = `fault-load-${run}-${i}`;
    const steps: object[] = [
      {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table: tableA, values: { id: sagaId } },
      },
      {
        id: 'key',
        backend: 'kv',
        operation: 'set',
        payload: { key: `${keyPrefix}${sagaId}`, value: sagaId },
      },
      {
        id: 'row2',
        backend: 'postgres',
        operation: 'insert',
        payload: { table: tableB, values: { id: sagaId } },
      },
    ];
    let failAt: number | null = null;
    if (failing.has(i)) {
      failAt = Math.floor(rnd() * (steps.length + 1));
      steps.splice(failAt, 0, {
        id: 'dup',
        backend: 'postgres',
        operation: 'insert',
        payload: { table: tableA, values: { id: TAKEN } },
      });
    }
    return { sagaId, failAt, definition: { name: 'fault-load', sagaId, steps } };
  });
}

beforeAll(async () => {
  config = loadConfig();
  pool = dataPool(config);
  await pool.query(`CREATE TABLE ${tableA} (id text PRIMARY KEY)`);
  await pool.query(`CREATE TABLE ${tableB} (id text PRIMARY KEY)`);
  await pool.query(`INSERT INTO ${tableA} (id) VALUES ($1)`, [TAKEN]);
  redis = createClient({ url: config.redis.url });
  await redis.connect();
  const env = workerEnv(`faults-load-${run}`);
  worker = await startCliWorker(env);
  sagas = await sagaClient(config, env.TEMPORAL_TASK_QUEUE!);
});

afterAll(async () => {
  await worker?.stop();
  await sagas?.close();
  await pool?.query(`DROP TABLE IF EXISTS ${tableA}, ${tableB}`);
  await pool?.end();
  if (redis?.isOpen) {
    for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.del(keys);
    await redis.quit();
  }
});

describe(`${LOAD_SAGAS} sagas, ${IN_FLIGHT} in flight, ${FAILURE_RATE * 100}% failing at a random step`, () => {
  it('every saga ends as expected, only the committed ones left data, every trail is valid', async () => {
    const planned = plan();
    const states = new Map<string, string>();
    let next = 0;
    let inFlight = 0;
    let peak = 0;
    const started = Date.now();
    const slot = async () => {
      for (let i = next++; i < planned.length; i = next++) {
        const p = planned[i]!;
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          const saga = await sagas.client.createSaga(p.definition);
          states.set(p.sagaId, (await saga.result()).status.state);
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, slot));
    const seconds = (Date.now() - started) / 1000;
    console.info(
      `[faults] load: ${LOAD_SAGAS} sagas in ${seconds.toFixed(1)} s (${(LOAD_SAGAS / seconds).toFixed(1)} sagas/s), peak ${peak} in flight`,
    );
    expect(peak).toBeGreaterThanOrEqual(50);
    expect(peak).toBeLessThanOrEqual(100);

    const committed = planned.filter((p) => p.failAt === null).map((p) => p.sagaId);
    const rolledBack = planned.filter((p) => p.failAt !== null);
    expect(rolledBack.length).toBe(LOAD_SAGAS * FAILURE_RATE);
    // Failures at every position: before the first write, between writes, after the last.
    expect(new Set(rolledBack.map((p) => p.failAt))).toEqual(new Set([0, 1, 2, 3]));
    const expected = Object.fromEntries(
      planned.map((p) => [p.sagaId, p.failAt === null ? 'COMMITTED' : 'ROLLED_BACK']),
    );
    expect(Object.fromEntries(states)).toEqual(expected);

    // Zero residue: exactly the committed sagas' rows and keys.
    const sorted = [...committed].sort();
    const rowsA = await pool.query<{ id: string }>(`SELECT id FROM ${tableA} WHERE id <> $1 ORDER BY id`, [
      TAKEN,
    ]);
    expect(rowsA.rows.map((r) => r.id)).toEqual(sorted);
    const rowsB = await pool.query<{ id: string }>(`SELECT id FROM ${tableB} ORDER BY id`);
    expect(rowsB.rows.map((r) => r.id)).toEqual(sorted);
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 }))
      keys.push(...batch);
    expect(keys.map((k) => k.slice(keyPrefix.length)).sort()).toEqual(sorted);

    // Every trail valid, ending as expected; the failing step failed once and nothing else did.
    const { problems, trails } = await checkTrails(
      pool,
      planned.map((p) => p.sagaId),
    );
    expect(problems).toEqual([]);
    for (const p of planned) {
      const lines = trailLines(trails.get(p.sagaId) ?? []);
      expect(lines.at(-1), p.sagaId).toBe(p.failAt === null ? 'SAGA_COMMITTED' : 'SAGA_ROLLED_BACK');
      expect(
        lines.filter((l) => l.startsWith('STEP_FAIL')),
        p.sagaId,
      ).toEqual(p.failAt === null ? [] : ['STEP_FAIL:dup']);
      expect(lines.filter((l) => l.startsWith('COMPENSATION_SUCCESS')).length, p.sagaId).toBe(
        p.failAt === null ? 0 : p.failAt,
      );
    }
    expect(worker.child.exitCode).toBeNull();
  });
});
