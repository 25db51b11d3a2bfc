/**
 * Hostile input refused, against the stack (property-based, fast-check): generated malformed
 * definitions (test/helpers/hostile.ts) are passed to SagaClient.createSaga with a real worker
 * polling. Every refused one is refused before anything starts: no workflow with its id in
 * Temporal, no audit row for it, no row in PostgreSQL and no key in Redis. Every accepted one
 * runs to a correct end (COMMITTED, or ROLLED_BACK with nothing left behind). Afterwards the
 * worker is still running and a valid saga commits.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectedTemporalClient, SagaClient } from '../../../src/client/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { InvalidDefinitionError } from '../../../src/saga/errors.js';
import type { SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';
import { baseDefinition, HOSTILE_LIMITS, hostileCase } from '../../helpers/hostile.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const table = `hostile_rows_${run}`;
const taskQueue = `polysaga-hostile-${run}`;
const RUNS = Number(process.env.HOSTILE_RUNS ?? 60);

let env: InProcessSagas;
let worker: SagaWorker;
let connected: ConnectedTemporalClient;
let sagas: SagaClient;

beforeAll(async () => {
  env = await startInProcessSagas({
    config,
    taskQueue,
    client: { limits: HOSTILE_LIMITS },
    tables: [`${table} (id text PRIMARY KEY, title text, n numeric)`],
  });
  ({ worker, sagas, connected } = env);
});
afterAll(async () => {
  await env?.close();
});

async function workflowExists(id: string): Promise<boolean> {
  try {
    await connected.client.workflow.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function residue(token: string): Promise<{ rows: number; keys: number }> {
  const rows = await worker.resources.pool.query(`SELECT 1 FROM ${table} WHERE id LIKE $1`, [`${token}-%`]);
  const keys = await worker.resources.redis.keys(`hostile:${token}:*`);
  return { rows: rows.rowCount ?? 0, keys: keys.length };
}

describe('generated hostile definitions through SagaClient.createSaga', () => {
  it(`${RUNS} cases: refused before anything starts, or run to a correct end; the worker survives`, async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    const verdicts: Record<string, number> = {};
    let ran = 0;
    for (let n = 0; n < RUNS; n++) {
      const token = `${run}-${n}`;
      const [c] = fc.sample(hostileCase(baseDefinition(['postgres', 'kv'], token, table)), {
        numRuns: 1,
        seed: seed + n,
      });
      const def = c!.definition;
      const sagaId = typeof def.sagaId === 'string' ? def.sagaId : `hostile-${token}`;
      const what = `case ${n} (seed ${seed + n}, ${c!.kind} at ${JSON.stringify(c!.path)})`;
      let started: Awaited<ReturnType<SagaClient['createSaga']>> | undefined;
      try {
        started = await sagas.createSaga(def);
      } catch (err) {
        expect(err, what).toBeInstanceOf(InvalidDefinitionError);
        expect((err as Error).message, what).not.toMatch(/\n/);
      }
      if (!started) {
        verdicts[`${c!.kind}:refused`] = (verdicts[`${c!.kind}:refused`] ?? 0) + 1;
        expect(await workflowExists(sagaId), `${what}: a workflow exists`).toBe(false);
        const audit = await worker.resources.pool.query('SELECT 1 FROM uds3_saga_events WHERE saga_id = $1', [
          sagaId,
        ]);
        expect(audit.rowCount, `${what}: audit rows`).toBe(0);
        expect(await residue(token), what).toEqual({ rows: 0, keys: 0 });
        continue;
      }
      expect(c!.mustRefuse, `${what} was accepted`).toBe(false);
      verdicts[`${c!.kind}:accepted`] = (verdicts[`${c!.kind}:accepted`] ?? 0) + 1;
      ran++;
      const result = await started.result();
      expect(['COMMITTED', 'ROLLED_BACK'], what).toContain(result.status.state);
      if (result.status.state === 'ROLLED_BACK')
        expect(await residue(token), what).toEqual({ rows: 0, keys: 0 });
    }
    expect(Object.keys(verdicts).some((k) => k.endsWith(':refused'))).toBe(true);
    expect(ran, JSON.stringify(verdicts)).toBeGreaterThan(0);

    // The worker is alive and a valid saga commits.
    expect(worker.worker.getState()).toBe('RUNNING');
    const ok = await sagas.executeSaga({
      name: 'hostile-after',
      sagaId: `hostile-after-${run}`,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: `after-${run}`, n: 1 } },
        },
        { id: 'kv', backend: 'kv', operation: 'set', payload: { key: `hostile:after:${run}`, value: 'v' } },
      ],
    });
    expect(ok.status.state).toBe('COMMITTED');
    await worker.resources.redis.del(`hostile:after:${run}`);
  });
});
