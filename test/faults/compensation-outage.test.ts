/**
 * Fault: the backend of a compensation is down during the unwind. A saga writes an S3 object and
 * a PostgreSQL row, then its gate step is refused; S3 is stopped just before, so the object's
 * undo fails on every (short, tuned) retry and the saga ends FAILED, waiting for an operator,
 * with the row already undone. Once S3 is back, `polysaga retry` runs the failed undo again and
 * the saga ends ROLLED_BACK: the object is gone, and the audit trail is one valid sequence
 * (…, SAGA_FAILED, SAGA_RETRIED, the undo once more, SAGA_ROLLED_BACK) with no duplicated
 * transition.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/backends/s3/adapter.js';
import type { Config } from '../../src/config/index.js';
import { polysaga } from '../helpers/cli.js';
import { checkTrails, trailLines } from '../helpers/trail.js';
import {
  dataPool,
  Gate,
  gateStep,
  loadConfig,
  runId,
  sagaClient,
  stack,
  startCliWorker,
  until,
  workerEnv,
  type Sagas,
} from './support.js';

const run = runId();
const table = `fault_comp_${run}`;
const objectKey = `faults/compensation-outage/${run}.txt`;
let config: Config;
let pool: pg.Pool;
let s3: S3Client;
let gate: Gate;
let sagas: Sagas;
let env: Record<string, string>;
let worker: Awaited<ReturnType<typeof startCliWorker>>;

beforeAll(async () => {
  config = loadConfig();
  pool = dataPool(config);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
  s3 = createS3Client(config.s3);
  gate = await new Gate().start();
  env = workerEnv(`faults-comp-${run}`, gate);
  worker = await startCliWorker(env);
  // Compensations retried 3 times, 200 ms apart: FAILED is reached within a second or two.
  sagas = await sagaClient(config, env.TEMPORAL_TASK_QUEUE!, {
    retryInterval: '200ms',
    compensationAttempts: 3,
  });
});

afterAll(async () => {
  await stack('up', 's3').catch(() => undefined);
  await worker?.stop();
  await sagas?.close();
  await gate?.stop();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
  s3?.destroy();
});

async function objectExists(): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: config.s3.bucket, Key: objectKey }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

describe("a compensation's backend down during the unwind", () => {
  it('the saga ends FAILED; `polysaga retry` after the backend is back brings it to ROLLED_BACK, nothing left', async () => {
    const sagaId = `fault-comp-${run}`;
    await sagas.client.createSaga({
      name: 'fault-compensation-outage',
      sagaId,
      steps: [
        {
          id: 'object',
          backend: 's3',
          operation: 'put_object',
          payload: { key: objectKey, body: 'fault suite' },
        },
        { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id: sagaId } } },
        gateStep('wait', `comp-${run}`),
      ],
    });
    await until('the saga at its gate', () => (gate.waiting(`comp-${run}`) === 1 ? true : undefined));
    expect(await objectExists()).toBe(true);

    await stack('down', 's3');
    try {
      gate.release(`comp-${run}`, 409);
      const failed = await until(
        'the saga to end FAILED',
        async () => {
          const s = await sagas.client.getStatus(sagaId);
          return s.state === 'FAILED' ? s : undefined;
        },
        90_000,
      );
      // Only the object's undo failed; the row's undo ran (PostgreSQL is up).
      expect(failed.failures.map((f) => `${f.phase}:${f.stepId}`)).toEqual([
        'step:wait',
        'compensation:object',
      ]);
      expect(failed.compensationStack.map((e) => e.stepId)).toEqual(['object']);
      expect((await pool.query(`SELECT id FROM ${table}`)).rows).toEqual([]);
    } finally {
      await stack('up', 's3');
    }
    // While FAILED, the object is still there: it is what the operator's retry will undo.
    expect(await objectExists()).toBe(true);

    const retried = await polysaga(['retry', sagaId], env);
    expect(retried.code, retried.stderr).toBe(0);
    const states: string[] = [];
    await until(
      'the saga to settle after the retry',
      async () => {
        const s = await sagas.client.getStatus(sagaId);
        states.push(s.state);
        return s.state === 'ROLLED_BACK' || s.state === 'RESOLVED' ? true : undefined;
      },
      90_000,
    );
    expect(states.at(-1)).toBe('ROLLED_BACK');

    expect(await objectExists()).toBe(false);
    expect((await pool.query(`SELECT id FROM ${table}`)).rows).toEqual([]);
    const { problems, trails } = await checkTrails(pool, [sagaId]);
    expect(problems).toEqual([]);
    expect(trailLines(trails.get(sagaId) ?? [])).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:object',
      'STEP_SUCCESS:object',
      'STEP_PENDING:row',
      'STEP_SUCCESS:row',
      'STEP_PENDING:wait',
      'STEP_FAIL:wait',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'COMPENSATION_STARTED:object',
      'COMPENSATION_FAIL:object',
      'SAGA_FAILED',
      'SAGA_RETRIED',
      'COMPENSATION_STARTED:object',
      'COMPENSATION_SUCCESS:object',
      'SAGA_ROLLED_BACK',
    ]);
  });
});
