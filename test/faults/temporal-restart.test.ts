/**
 * Fault: the Temporal dev server is stopped and started again (stack.sh down/up temporal) while
 * sagas are in flight. The dev server keeps its state in a SQLite file (`data/temporal.db` under
 * the stack directory), so the sagas are still there after the restart and finish: the ones
 * whose gate step succeeds COMMIT, the one whose gate step is refused ROLLS BACK. Checked in the
 * stores: rows present once (committed) or gone (rolled back), every audit trail valid with no
 * duplicated transition, and the same `polysaga worker` process carried on throughout.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { checkTrails } from '../helpers/trail.js';
import {
  dataPool,
  Gate,
  gateStep,
  loadConfig,
  runId,
  sagaClient,
  sleep,
  stack,
  startCliWorker,
  until,
  waitSettled,
  workerEnv,
  type Sagas,
} from './support.js';

const run = runId();
const table = `fault_tr_${run}`;
const stackDir = process.env.POLYSAGA_STACK_DIR ?? fileURLToPath(new URL('../../.stack', import.meta.url));
let config: Config;
let pool: pg.Pool;
let gate: Gate;
let sagas: Sagas;
let worker: Awaited<ReturnType<typeof startCliWorker>>;

beforeAll(async () => {
  config = loadConfig();
  pool = dataPool(config);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
  gate = await new Gate().start();
  const env = workerEnv(`faults-temporal-${run}`, gate);
  worker = await startCliWorker(env);
  sagas = await sagaClient(config, env.TEMPORAL_TASK_QUEUE!);
});

afterAll(async () => {
  await stack('up', 'temporal').catch(() => undefined);
  await worker?.stop();
  await sagas?.close();
  await gate?.stop();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

function definition(sagaId: string, gateName: string) {
  return {
    name: 'fault-temporal-restart',
    sagaId,
    steps: [
      {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: `${sagaId}:row` } },
      },
      // Waits until the test lets it go (support.ts: 5 s attempts, retried without limit).
      gateStep('wait', gateName),
      {
        id: 'row2',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: `${sagaId}:row2` } },
      },
    ],
  };
}

describe('Temporal dev server restarted mid-saga', () => {
  it('sagas in flight finish after the restart: committed ones once, the refused one rolled back', async () => {
    const commitIds = Array.from({ length: 5 }, (_, i) => `fault-tr-${run}-${i}`);
    const rollbackId = `fault-tr-${run}-refused`;
    for (const id of commitIds) await sagas.client.createSaga(definition(id, `ok-${run}`));
    await sagas.client.createSaga(definition(rollbackId, `no-${run}`));
    await until('every saga to wait at its gate', () =>
      gate.waiting(`ok-${run}`) === 5 && gate.waiting(`no-${run}`) === 1 ? true : undefined,
    );

    const db = join(stackDir, 'data', 'temporal.db');
    if (process.env.POLYSAGA_STACK !== 'external') expect(existsSync(db), `${db} exists`).toBe(true);
    await stack('down', 'temporal');
    // The gate steps finish while the server is down: their completions cannot be reported.
    gate.release(`ok-${run}`, 200);
    gate.release(`no-${run}`, 409);
    await sleep(3000);
    await stack('up', 'temporal');
    if (process.env.POLYSAGA_STACK !== 'external') expect(statSync(db).size).toBeGreaterThan(0);

    const states = await waitSettled(sagas.client, [...commitIds, rollbackId]);
    expect(states).toEqual({
      ...Object.fromEntries(commitIds.map((id) => [id, 'COMMITTED'])),
      [rollbackId]: 'ROLLED_BACK',
    });
    // The worker process rode out the restart.
    expect(worker.child.exitCode).toBeNull();

    // Committed: both rows, once. Rolled back: nothing left.
    const rows = await pool.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`);
    expect(rows.rows.map((r) => r.id)).toEqual(commitIds.flatMap((id) => [`${id}:row`, `${id}:row2`]).sort());
    const { problems, trails } = await checkTrails(pool, [...commitIds, rollbackId]);
    expect(problems).toEqual([]);
    for (const id of commitIds) expect(trails.get(id)?.at(-1)?.status).toBe('SAGA_COMMITTED');
    expect(trails.get(rollbackId)?.at(-1)?.status).toBe('SAGA_ROLLED_BACK');
  });
});
