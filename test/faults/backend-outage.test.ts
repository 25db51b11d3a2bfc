/**
 * Fault: a backend server is stopped for longer than the first retry interval and started
 * again while sagas run, first Neo4j (a step backend), then PostgreSQL (a step backend and the
 * audit database). The sagas wait at a gate step while the server is stopped, then go on: the
 * ones whose next step needs the stopped server retry it until the server is back and COMMIT;
 * the ones whose gate is refused unwind, and their compensations (on the stopped server) retry
 * until it is back: ROLLED_BACK. Checked in the stores: committed data present once, rolled-back
 * data gone, every audit trail valid with no duplicated transition (a step whose audit rows could
 * not be written runs again under the same idempotency key), and the worker process survived.
 */
import neo4j, { type Driver } from 'neo4j-driver';
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
const table = `fault_out_${run}`;
const LABEL = `FaultOutage_${run}`;
/** A forward step that must outlast the outage: retried every 1–2 s without limit. */
const PATIENT = { initialInterval: '1s', maximumInterval: '2s', maximumAttempts: 0 };
/** How long the server stays down before it is started again (well above the first retry interval). */
const DOWN_MS = 5000;
let config: Config;
let pool: pg.Pool;
let driver: Driver;
let gate: Gate;
let sagas: Sagas;
let worker: Awaited<ReturnType<typeof startCliWorker>>;

beforeAll(async () => {
  config = loadConfig();
  pool = dataPool(config);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
  driver = neo4j.driver(config.neo4j.url, neo4j.auth.basic(config.neo4j.user, config.neo4j.password));
  gate = await new Gate().start();
  const env = workerEnv(`faults-outage-${run}`, gate);
  worker = await startCliWorker(env);
  sagas = await sagaClient(config, env.TEMPORAL_TASK_QUEUE!);
});

afterAll(async () => {
  await stack('up', 'neo4j').catch(() => undefined);
  await stack('up', 'postgres').catch(() => undefined);
  await worker?.stop();
  await sagas?.close();
  await gate?.stop();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await pool?.end();
  const s = driver?.session();
  await s?.run(`MATCH (n:${LABEL}) DETACH DELETE n`).catch(() => undefined);
  await s?.close();
  await driver?.close();
});

const rowStep = (id: string, key: string, extra: Record<string, unknown> = {}) => ({
  id,
  backend: 'postgres',
  operation: 'insert',
  payload: { table, values: { id: key } },
  ...extra,
});
const nodeStep = (id: string, key: string, extra: Record<string, unknown> = {}) => ({
  id,
  backend: 'neo4j',
  operation: 'create_node',
  payload: { labels: [LABEL], properties: { id: key } },
  ...extra,
});

async function rowIds(): Promise<string[]> {
  return (await pool.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);
}

async function nodeIds(): Promise<string[]> {
  const s = driver.session();
  try {
    const r = await s.run(`MATCH (n:${LABEL}) RETURN n.id AS id ORDER BY id`);
    return r.records.map((x) => x.get('id') as string);
  } finally {
    await s.close();
  }
}

/**
 * Starts `commit` and `rollback` sagas from the definitions, waits until every one waits at its
 * gate, stops `service`, lets the gates go (200 for `ok`, 409 for `no`), waits DOWN_MS, starts
 * the service again and waits until every saga settles.
 */
async function outage(
  service: 'neo4j' | 'postgres',
  commit: (sagaId: string, gateName: string) => object,
  rollback: (sagaId: string, gateName: string) => object,
) {
  const commitIds = Array.from({ length: 4 }, (_, i) => `fault-${service}-${run}-ok-${i}`);
  const rollbackIds = Array.from({ length: 3 }, (_, i) => `fault-${service}-${run}-no-${i}`);
  const ok = `${service}-ok-${run}`;
  const no = `${service}-no-${run}`;
  for (const id of commitIds) await sagas.client.createSaga(commit(id, ok));
  for (const id of rollbackIds) await sagas.client.createSaga(rollback(id, no));
  await until(`every ${service} saga at its gate`, () =>
    gate.waiting(ok) === commitIds.length && gate.waiting(no) === rollbackIds.length ? true : undefined,
  );
  const logBefore = worker.log().length;
  await stack('down', service);
  const stoppedAt = Date.now();
  gate.release(ok, 200);
  gate.release(no, 409);
  await sleep(DOWN_MS);
  await stack('up', service);
  const downMs = Date.now() - stoppedAt;
  const states = await waitSettled(sagas.client, [...commitIds, rollbackIds].flat());
  console.info(
    `[faults] ${service} down ${downMs} ms; every saga settled ${Date.now() - stoppedAt - downMs} ms after the restart`,
  );
  expect(states).toEqual({
    ...Object.fromEntries(commitIds.map((id) => [id, 'COMMITTED'])),
    ...Object.fromEntries(rollbackIds.map((id) => [id, 'ROLLED_BACK'])),
  });
  // The outage was felt (activities failed and were retried) and the worker survived it.
  expect(worker.log().slice(logBefore)).toMatch(/Activity failed|unavailable/i);
  expect(worker.child.exitCode).toBeNull();
  const { problems, trails } = await checkTrails(pool, [...commitIds, ...rollbackIds]);
  expect(problems).toEqual([]);
  return { commitIds, rollbackIds, trails, downMs };
}

describe('Neo4j stopped while sagas with a neo4j step run', () => {
  it('committed sagas create their node once after the restart; unwinding ones delete theirs: nothing left', async () => {
    const { commitIds, rollbackIds, downMs } = await outage(
      'neo4j',
      // row → gate → node (the node is created during the outage: retried until Neo4j is back)
      (sagaId, g) => ({
        name: 'fault-neo4j-outage',
        sagaId,
        steps: [
          rowStep('row', `${sagaId}:row`),
          gateStep('wait', g),
          nodeStep('node', `${sagaId}:node`, { retry: PATIENT }),
        ],
      }),
      // row → node → gate (refused): the node's undo runs during the outage
      (sagaId, g) => ({
        name: 'fault-neo4j-outage',
        sagaId,
        steps: [rowStep('row', `${sagaId}:row`), nodeStep('node', `${sagaId}:node`), gateStep('wait', g)],
      }),
    );
    expect(downMs).toBeGreaterThan(DOWN_MS);
    expect(await rowIds()).toEqual(commitIds.map((id) => `${id}:row`).sort());
    expect(await nodeIds()).toEqual(commitIds.map((id) => `${id}:node`).sort());
    expect(rollbackIds.length).toBe(3);
  });
});

describe('PostgreSQL (data and audit) stopped while sagas run', () => {
  it('sagas pause and finish after the restart: no duplicated audit transition, nothing left', async () => {
    const before = await rowIds();
    const { commitIds } = await outage(
      'postgres',
      // row → gate → row2 (written during the outage: retried until PostgreSQL is back)
      (sagaId, g) => ({
        name: 'fault-postgres-outage',
        sagaId,
        steps: [
          rowStep('row', `${sagaId}:row`),
          gateStep('wait', g),
          rowStep('row2', `${sagaId}:row2`, { retry: PATIENT }),
        ],
      }),
      // row → gate (refused): the row's undo and every audit row wait for PostgreSQL
      (sagaId, g) => ({
        name: 'fault-postgres-outage',
        sagaId,
        steps: [rowStep('row', `${sagaId}:row`), gateStep('wait', g)],
      }),
    );
    expect(await rowIds()).toEqual(
      [...before, ...commitIds.flatMap((id) => [`${id}:row`, `${id}:row2`])].sort(),
    );
  });
});
