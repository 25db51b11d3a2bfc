/**
 * End to end: a saga stuck on a failing workflow task is visible and can be cleared.
 *
 * Validation now refuses `"timeout": "0s"`, so the test bypasses it the way a bug or a bad
 * deploy would: it takes the identity lock and starts `sagaWorkflow` through the Temporal
 * client directly, with the input the SagaClient builds, after setting step b's timeout to 0s.
 * Step a (a real Redis SET) succeeds; scheduling step b fails the workflow task on every attempt
 * (BadScheduleActivityAttributes), so step b's activity never runs and writes no STEP_PENDING row. Then: `status` answers within seconds naming the cause (the
 * status query cannot); `abort` refuses with exit 1 and sends nothing; `recover` reports it as
 * needing a person; `abort --terminate` terminates it and releases the identity lock; a second
 * saga with the same identity key commits; `recover` unwinds step a from the audit trail and
 * leaves nothing behind. In-process worker on a task queue of its own (other suites share the stack).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPool, readEvents, verifyTrail } from '../../src/audit/index.js';
import { createDataConverter } from '../../src/blobs/index.js';
import {
  IDENTITY_LOCK_WORKFLOW_TYPE,
  IdentityLockedError,
  SAGA_WORKFLOW_TYPE,
  SagaClient,
  type SagaStatus,
} from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { RecoveryReport } from '../../src/recovery/index.js';
import { lockWorkflowId, type IdentityLockInput } from '../../src/saga/identity.js';
import { IdentityKeyKey, SagaNameKey, SagaStateKey, TraceIdKey } from '../../src/saga/search-attributes.js';
import type { SagaWorkflowInput } from '../../src/saga/status.js';
import { createSagaWorker, type SagaWorker } from '../../src/workers/index.js';
import { polysaga } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-e2e-stuck-${run}`;
const env = { TEMPORAL_TASK_QUEUE: taskQueue };
const sagaId = `stuck-${run}`;
const identityKey = `stuck-key-${run}`;
const keyA = `stuck:${run}:a`;
let worker: SagaWorker;
let running: Promise<void>;
let connection: Connection;
let client: Client;
let sagas: SagaClient;
let pool: pg.Pool;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const trail = async () =>
  (await readEvents(pool, sagaId)).map((e) => `${e.status}${e.stepId ? `:${e.stepId}` : ''}`);

beforeAll(async () => {
  const migrated = await polysaga(['migrate'], env);
  expect(migrated.code, migrated.stderr).toBe(0);
  pool = createAuditPool(config.postgres);
  worker = await createSagaWorker({ config, taskQueue });
  running = worker.run();
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({
    connection,
    namespace: config.temporal.namespace,
    // The worker's data converter (payloads encrypted when the stack configures codec keys).
    dataConverter: createDataConverter({
      pool,
      thresholdBytes: config.payloads.thresholdBytes,
      keys: config.codec.keys,
    }),
  });
  sagas = new SagaClient({ client, taskQueue });
});

afterAll(async () => {
  // Whatever a failed assertion left running.
  for (const id of [sagaId, lockWorkflowId(identityKey)])
    await client?.workflow
      .getHandle(id)
      .terminate('test cleanup')
      .catch(() => undefined);
  await worker?.resources.redis.del(keyA).catch(() => undefined);
  await worker?.shutdown();
  await running?.catch(() => undefined);
  await connection?.close();
  await pool?.end();
});

describe('a running saga that does not answer', () => {
  it('no worker polls its task queue: getStatus says so after statusQueryTimeoutMs instead of hanging', async () => {
    const nobody = new SagaClient({ client, taskQueue: `nobody-${run}`, statusQueryTimeoutMs: 2000 });
    const started = await nobody.createSaga({
      name: 'stuck-e2e-unpolled',
      steps: [{ id: 'a', backend: 'kv', operation: 'set', payload: { key: `stuck:${run}:u`, value: '1' } }],
    });
    try {
      await expect(nobody.getStatus(started.sagaId)).rejects.toThrow(
        new RegExp(
          `^saga ${started.sagaId} did not answer its status query within 2000 ms \\(.*\\); is a worker polling task queue nobody-${run}\\?$`,
        ),
      );
    } finally {
      await client.workflow.getHandle(started.sagaId).terminate('test cleanup');
    }
  });
});

describe('a saga stuck on a failing workflow task', () => {
  it('is started past validation, the way the client starts a saga', async () => {
    const def = await sagas.validate({
      name: 'stuck-e2e',
      sagaId,
      identityKey,
      steps: [
        { id: 'a', backend: 'kv', operation: 'set', payload: { key: keyA, value: 'written by a' } },
        { id: 'b', backend: 'kv', operation: 'set', payload: { key: `stuck:${run}:b`, value: 'never' } },
      ],
    });
    def.steps[1]!.timeout = '0s';
    await client.workflow.start(IDENTITY_LOCK_WORKFLOW_TYPE, {
      workflowId: lockWorkflowId(identityKey),
      taskQueue,
      args: [{ identityKey, sagaId } satisfies IdentityLockInput],
      workflowIdConflictPolicy: 'FAIL',
      memo: { sagaId },
    });
    await client.workflow.start(SAGA_WORKFLOW_TYPE, {
      workflowId: sagaId,
      taskQueue,
      args: [{ definition: def } satisfies SagaWorkflowInput],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: SagaNameKey, value: def.name },
        { key: SagaStateKey, value: 'PENDING' },
        { key: TraceIdKey, value: def.traceId },
        { key: IdentityKeyKey, value: identityKey },
      ],
    });
    // Step a ran for real; step b never gets scheduled.
    await until('step a to write its key', async () =>
      (await worker.resources.redis.get(keyA)) === 'written by a' ? true : undefined,
    );
  });

  it('getStatus answers within seconds, naming the cause; the status query cannot', async () => {
    const status = await until('the saga to be reported stuck', async () => {
      const s = await sagas.getStatus(sagaId);
      return s.stuck ? s : undefined;
    });
    expect(status.stuck).toMatchObject({ cause: 'BAD_SCHEDULE_ACTIVITY_ATTRIBUTES' });
    expect(status.stuck!.message).toMatch(/BadScheduleActivityAttributes: .*StartToCloseTimeout/);
    expect(status.stuck!.attempts).toBeGreaterThanOrEqual(2);
    expect(status.stuck!.hint).toContain(`polysaga abort --terminate ${sagaId}`);
    expect(status).toMatchObject({ sagaId, name: 'stuck-e2e', state: 'EXECUTING', identityKey });
    expect(status.steps.map((s) => s.id)).toEqual(['a', 'b']);

    // Once stuck, an answer comes without waiting for the (doomed) query.
    const started = Date.now();
    expect((await sagas.getStatus(sagaId)).stuck?.cause).toBe('BAD_SCHEDULE_ACTIVITY_ATTRIBUTES');
    expect(Date.now() - started).toBeLessThan(10_000); // no hang; a loose bound on a busy machine
  });

  it('polysaga status shows STUCK with the cause and what to do (exit 0); --json has `stuck`', async () => {
    const text = await polysaga(['status', sagaId], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`saga ${sagaId} (stuck-e2e): STUCK (last recorded state EXECUTING)`);
    expect(text.stdout).toContain('BAD_SCHEDULE_ACTIVITY_ATTRIBUTES');
    expect(text.stdout).toContain(`polysaga abort --terminate ${sagaId}`);
    const json = await polysaga(['status', sagaId, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as SagaStatus).stuck?.cause).toBe('BAD_SCHEDULE_ACTIVITY_ATTRIBUTES');
  });

  it('polysaga abort refuses (exit 1, one line saying what to do) and sends no signal', async () => {
    const r = await polysaga(['abort', sagaId], env);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `polysaga: saga ${sagaId} is stuck: its workflow task fails (BAD_SCHEDULE_ACTIVITY_ATTRIBUTES`,
    );
    expect(lines[0]).toContain(`polysaga abort --terminate ${sagaId}`);
    const history = await client.workflow.getHandle(sagaId).fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionSignaledEventAttributes)).toBe(false);
  });

  it('the identity key stays locked meanwhile', async () => {
    await expect(
      sagas.createSaga({
        name: 'stuck-e2e-second',
        identityKey,
        steps: [{ id: 'x', backend: 'kv', operation: 'set', payload: { key: `stuck:${run}:x`, value: '1' } }],
      }),
    ).rejects.toBeInstanceOf(IdentityLockedError);
  });

  it('polysaga recover lists it as needing a person (exit 1) and writes nothing', async () => {
    const before = await trail();
    // Step b's activity (which writes its write-ahead STEP_PENDING row) was never scheduled.
    expect(before).toEqual(['SAGA_STARTED', 'STEP_PENDING:a', 'STEP_SUCCESS:a']);
    const r = await polysaga(['recover', '--saga-id', sagaId, '--grace', '0s', '--json'], env);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report.sagas).toEqual([
      expect.objectContaining({ sagaId, kind: 'stuck', outcome: 'STUCK', action: 'none', consistent: false }),
    ]);
    expect(report.sagas[0]!.detail).toContain('BAD_SCHEDULE_ACTIVITY_ATTRIBUTES');
    expect(await trail()).toEqual(before);
  });

  it('polysaga abort --terminate terminates it and releases the identity lock', async () => {
    const r = await polysaga(['abort', sagaId, '--terminate', '--reason', 'stuck e2e'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`terminated saga ${sagaId}`);
    expect(r.stdout).toContain('its workflow task was failing (BAD_SCHEDULE_ACTIVITY_ATTRIBUTES)');
    expect(r.stdout).toContain(`identity key "${identityKey}" released`);
    expect((await client.workflow.getHandle(sagaId).describe()).status.name).toBe('TERMINATED');
    expect((await client.workflow.getHandle(lockWorkflowId(identityKey)).describe()).status.name).toBe(
      'TERMINATED',
    );
  });

  it('a second saga with the same identity key starts and commits', async () => {
    const second = await sagas.createSaga({
      name: 'stuck-e2e-second',
      identityKey,
      steps: [{ id: 'x', backend: 'kv', operation: 'set', payload: { key: `stuck:${run}:x`, value: '1' } }],
    });
    expect((await second.result()).status.state).toBe('COMMITTED');
    await worker.resources.redis.del(`stuck:${run}:x`);
  });

  it('polysaga recover unwinds step a from the audit trail and leaves nothing behind', async () => {
    const r = await polysaga(['recover', '--saga-id', sagaId, '--grace', '0s', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RecoveryReport;
    expect(report.sagas).toEqual([
      expect.objectContaining({
        sagaId,
        kind: 'orphan',
        action: 'unwound',
        outcome: 'ROLLED_BACK',
        consistent: true,
        compensated: ['a'],
        inDoubt: null,
      }),
    ]);
    expect(await worker.resources.redis.get(keyA)).toBeNull();
    expect(await trail()).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:a',
      'STEP_SUCCESS:a',
      'COMPENSATION_STARTED:a',
      'COMPENSATION_SUCCESS:a',
      'SAGA_ROLLED_BACK',
    ]);
    expect((await verifyTrail(pool, sagaId)).errors).toEqual([]);
    // A second pass finds nothing left to do.
    const again = await polysaga(['recover', '--saga-id', sagaId, '--grace', '0s', '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as RecoveryReport).sagas).toEqual([]);
  });
});
