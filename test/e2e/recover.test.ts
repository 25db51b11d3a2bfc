/**
 * End to end: `polysaga recover` against a real worker (`polysaga worker`) and the local stack.
 *
 * - a FAILED saga (its compensation hit a renamed table): recover while still broken → exit 1,
 *   still FAILED after --max-retries tries; table restored → recover → ROLLED_BACK, row gone.
 * - an orphan: a saga blocked in a slow step after two steps succeeded; its workflow is
 *   terminated and deleted → recover unwinds it from uds3_saga_events (row and node gone); a
 *   saga still running under the same name is left alone.
 * - a "namespace reset": a trail in SQL whose workflow never existed in this namespace →
 *   recover unwinds the writes straight from the audit table.
 * Every saga, table, label and task queue is unique to this run (other suites share the stack).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import neo4j, { type Driver } from 'neo4j-driver';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAuditPool,
  readEvents,
  stepSuccessPayload,
  verifyTrail,
  type AuditEvent,
} from '../../src/audit/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { RecoveryReport } from '../../src/recovery/index.js';
import type {
  CompensationEntry,
  JsonObject,
  SagaActivities,
  SagaEventInput,
} from '../../src/saga/contracts.js';
import { createActivities, createBackendResources, type BackendResources } from '../../src/workers/index.js';

const BIN = fileURLToPath(new URL('../../bin/polysaga', import.meta.url));
const uid = randomUUID().replace(/-/g, '').slice(0, 10);
const TASK_QUEUE = `recover-e2e-${uid}`;
const LABEL = `RecoverE2e_${uid}`;
const dir = mkdtempSync(join(tmpdir(), 'polysaga-recover-'));

let config: Config;
let pool: pg.Pool;
let driver: Driver;
let worker: ChildProcess | undefined;
let workerLog = '';
const tables: string[] = [];
/** Every saga this file starts, closed in afterAll even when a test fails half-way. */
const started: string[] = [];
const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  TEMPORAL_TASK_QUEUE: TASK_QUEUE,
  // A service nobody listens on: its requests fail with ECONNREFUSED (transient, retried).
  HTTP_SERVICES: JSON.stringify({ nowhere: { url: 'http://127.0.0.1:9', timeout: '1s' } }),
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: env(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\nworker log:\n${workerLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const statuses = (events: AuditEvent[]) => events.map((e) => `${e.status}${e.stepId ? `:${e.stepId}` : ''}`);

async function createTable(name: string): Promise<string> {
  const table = `rec_${uid}_${name}`;
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text NOT NULL)`);
  tables.push(table);
  return table;
}

async function rowCount(table: string, id: string): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE id = $1`, [id]);
  return Number(r.rows[0]?.n);
}

async function nodeCount(id: string): Promise<number> {
  const s = driver.session();
  try {
    const r = await s.run(`MATCH (n:${LABEL} {id: $id}) RETURN count(n) AS n`, { id });
    return Number(r.records[0]?.get('n'));
  } finally {
    await s.close();
  }
}

function writeDefinition(name: string, definition: { sagaId: string; [key: string]: unknown }): string {
  started.push(definition.sagaId);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(definition));
  return file;
}

async function temporal(args: string[]): Promise<void> {
  const bin = process.env.POLYSAGA_TEMPORAL_BIN;
  if (!bin) throw new Error('POLYSAGA_TEMPORAL_BIN is not set (the stack exports it)');
  await new Promise<void>((resolve, reject) => {
    execFile(
      bin,
      [...args, '--address', config.temporal.address, '--namespace', config.temporal.namespace],
      { timeout: 30_000 },
      (err, _out, stderr) =>
        err ? reject(new Error(`temporal ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** Whether `temporal workflow describe` still finds the workflow. */
function workflowExists(id: string): Promise<boolean> {
  const bin = process.env.POLYSAGA_TEMPORAL_BIN as string;
  return new Promise((resolve) => {
    execFile(
      bin,
      [
        'workflow',
        'describe',
        '--workflow-id',
        id,
        '--address',
        config.temporal.address,
        '--namespace',
        config.temporal.namespace,
      ],
      { timeout: 30_000 },
      (err) => resolve(!err),
    );
  });
}

function parseReport(r: CliResult): RecoveryReport {
  try {
    return JSON.parse(r.stdout) as RecoveryReport;
  } catch {
    throw new Error(`recover printed no JSON (exit ${r.code}): ${r.stderr}\n${r.stdout}`);
  }
}

beforeAll(async () => {
  config = loadConfig();
  pool = createAuditPool(config.postgres);
  driver = neo4j.driver(
    config.neo4j.url,
    config.neo4j.password ? neo4j.auth.basic(config.neo4j.user, config.neo4j.password) : undefined,
  );
  const m = await cli(['migrate']);
  expect(m.code, m.stderr).toBe(0);
  worker = spawn(BIN, ['worker', '--task-queue', TASK_QUEUE], {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout?.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr?.on('data', (d: Buffer) => (workerLog += d.toString()));
  await until(
    'the worker to poll',
    async () =>
      workerLog.includes('polling') ||
      (worker?.exitCode != null ? Promise.reject(new Error(`worker exited: ${workerLog}`)) : false),
    60_000,
  );
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker?.once('exit', r));
    worker.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
  }
  // Leave nothing open for other suites' `recover`: stop our workflows, unwind what is left
  // while the tables still exist, then drop them.
  for (const t of tables)
    await pool?.query(`ALTER TABLE IF EXISTS ${t}_off RENAME TO ${t}`).catch(() => undefined);
  for (const id of started) {
    await temporal(['workflow', 'terminate', '--workflow-id', id, '--reason', 'recover e2e cleanup']).catch(
      () => undefined,
    );
  }
  if (started.length > 0) await cli(['recover', '--saga-id', ...started, '--grace', '0s']);
  for (const t of tables) await pool?.query(`DROP TABLE IF EXISTS ${t}, ${t}_off`).catch(() => undefined);
  if (driver) {
    const s = driver.session();
    await s.run(`MATCH (n:${LABEL}) DETACH DELETE n`).catch(() => undefined);
    await s.close();
    await driver.close();
  }
  await pool?.end();
});

describe('polysaga recover', () => {
  it('retries a FAILED saga with backoff: still FAILED while broken (exit 1), ROLLED_BACK once fixed (exit 0)', async () => {
    const table = await createTable('failed');
    const name = `recover-failed-${uid}`;
    const sagaId = `${name}-1`;
    const file = writeDefinition(name, {
      name,
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 'doc' } },
          compensation: 'relational_delete',
        },
        {
          id: 'call',
          backend: 'http',
          operation: 'request',
          payload: {
            service: 'nowhere',
            method: 'POST',
            path: '/documents',
            undo: { method: 'DELETE', path: '/documents/1' },
          },
          compensation: 'http_request',
          retry: { maximumAttempts: 4, initialInterval: '1s', backoffCoefficient: 1 },
        },
      ],
    });
    const started = await cli(['start', file, '--json']);
    expect(started.code, started.stderr).toBe(0);

    // While the http step retries, take the table away: the row's compensation then fails.
    await until('STEP_SUCCESS of row', async () =>
      (await readEvents(pool, sagaId)).some((e) => e.status === 'STEP_SUCCESS' && e.stepId === 'row'),
    );
    await pool.query(`ALTER TABLE ${table} RENAME TO ${table}_off`);
    await until('SAGA_FAILED', async () => (await readEvents(pool, sagaId)).at(-1)?.status === 'SAGA_FAILED');
    const status = await cli(['status', sagaId, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'FAILED' });

    // Still broken: two tries with backoff, still FAILED, exit 1.
    const broken = await cli([
      'recover',
      '--name',
      name,
      '--max-retries',
      '2',
      '--initial-interval',
      '200ms',
      '--json',
    ]);
    expect(broken.code, broken.stderr).toBe(1);
    const r1 = parseReport(broken).sagas.find((s) => s.sagaId === sagaId);
    expect(r1).toMatchObject({
      kind: 'failed',
      action: 'retried',
      tries: 2,
      outcome: 'FAILED',
      consistent: false,
    });
    const afterBroken = statuses(await readEvents(pool, sagaId));
    expect(afterBroken.filter((s) => s === 'SAGA_RETRIED')).toHaveLength(2);
    expect(afterBroken.at(-1)).toBe('SAGA_FAILED');

    // Fixed: recover retries the compensation through the workflow.
    await pool.query(`ALTER TABLE ${table}_off RENAME TO ${table}`);
    expect(await rowCount(table, sagaId)).toBe(1);
    const fixed = await cli(['recover', '--name', name, '--json']);
    expect(fixed.code, fixed.stderr + fixed.stdout).toBe(0);
    const r2 = parseReport(fixed).sagas.find((s) => s.sagaId === sagaId);
    expect(r2).toMatchObject({
      kind: 'failed',
      action: 'retried',
      tries: 1,
      outcome: 'ROLLED_BACK',
      consistent: true,
    });

    expect(await rowCount(table, sagaId)).toBe(0);
    const events = await readEvents(pool, sagaId);
    expect(statuses(events).slice(-5)).toEqual([
      'SAGA_FAILED',
      'SAGA_RETRIED',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
    expect((await verifyTrail(pool, sagaId)).errors).toEqual([]);
    const after = await cli(['status', sagaId, '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ state: 'ROLLED_BACK' });
  });

  it('unwinds an orphan (workflow terminated and deleted) from uds3_saga_events and leaves a running saga alone', async () => {
    const table = await createTable('orphan');
    const name = `recover-orphan-${uid}`;
    const definition = (sagaId: string) => ({
      name,
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 'doc' } },
          compensation: 'relational_delete',
        },
        {
          id: 'node',
          backend: 'neo4j',
          operation: 'create_node',
          payload: { labels: [LABEL], properties: { id: sagaId } },
          compensation: 'graph_delete_node',
        },
        {
          id: 'call',
          backend: 'http',
          operation: 'request',
          payload: {
            service: 'nowhere',
            method: 'POST',
            path: '/documents',
            undo: { method: 'DELETE', path: '/documents/1' },
          },
          compensation: 'http_request',
          // Retries without limit: the saga stays in this step until its workflow is removed.
          retry: { maximumAttempts: 0, initialInterval: '1s', maximumInterval: '2s' },
        },
      ],
    });
    const orphanId = `${name}-gone`;
    const runningId = `${name}-running`;
    for (const id of [orphanId, runningId]) {
      const s = await cli(['start', writeDefinition(id, definition(id)), '--json']);
      expect(s.code, s.stderr).toBe(0);
    }
    for (const id of [orphanId, runningId]) {
      await until(`${id} in step call`, async () =>
        (await readEvents(pool, id)).some((e) => e.status === 'STEP_PENDING' && e.stepId === 'call'),
      );
    }
    expect(await rowCount(table, orphanId)).toBe(1);
    expect(await nodeCount(orphanId)).toBe(1);

    // The workflow disappears: terminated, then its history deleted.
    await temporal([
      'workflow',
      'terminate',
      '--workflow-id',
      orphanId,
      '--reason',
      'recover e2e: simulate a lost workflow',
    ]);
    await temporal(['workflow', 'delete', '--workflow-id', orphanId, '--yes']);
    await until('the workflow to be deleted', async () => !(await workflowExists(orphanId)), 60_000);
    const before = await readEvents(pool, orphanId);
    expect(before.at(-1)?.status).toBe('STEP_PENDING');
    const runningBefore = (await readEvents(pool, runningId)).length;

    await new Promise((r) => setTimeout(r, 1200));
    const rec = await cli(['recover', '--name', name, '--grace', '1s', '--json']);
    const report = parseReport(rec);
    const orphan = report.sagas.find((s) => s.sagaId === orphanId);
    expect(orphan, rec.stdout).toMatchObject({
      kind: 'orphan',
      found: 'trail open, workflow not found',
      action: 'unwound',
      outcome: 'ROLLED_BACK',
      inDoubt: 'call',
    });
    expect(orphan?.compensated).toEqual(['node', 'row']);
    expect(report.sagas.find((s) => s.sagaId === runningId)).toMatchObject({
      kind: 'running',
      action: 'none',
      outcome: 'RUNNING',
    });
    expect(rec.code, rec.stderr).toBe(0);

    // The writes are gone, the trail ends ROLLED_BACK and is a valid sequence.
    expect(await rowCount(table, orphanId)).toBe(0);
    expect(await nodeCount(orphanId)).toBe(0);
    const events = await readEvents(pool, orphanId);
    expect(statuses(events).slice(before.length)).toEqual([
      'STEP_FAIL:call',
      'COMPENSATION_STARTED:node',
      'COMPENSATION_SUCCESS:node',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
    expect(events.slice(before.length).every((e) => e.payload.recoveredBy === 'polysaga recover')).toBe(true);
    expect(events.at(-1)?.seq).toBe((before.at(-1)?.seq ?? 0) + 6);
    expect((await verifyTrail(pool, orphanId)).errors).toEqual([]);

    // The running saga was not touched.
    expect(await readEvents(pool, runningId)).toHaveLength(runningBefore);
    expect(await rowCount(table, runningId)).toBe(1);

    // A second pass finds nothing more to do for the orphan.
    const again = parseReport(await cli(['recover', '--name', name, '--grace', '1s', '--json']));
    expect(again.sagas.find((s) => s.sagaId === orphanId)).toBeUndefined();

    // Stopped now, the second saga is an orphan too (terminated, history kept).
    await temporal([
      'workflow',
      'terminate',
      '--workflow-id',
      runningId,
      '--reason',
      'recover e2e: stop the second saga',
    ]);
    const second = await cli(['recover', '--saga-id', runningId, '--grace', '0s', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(parseReport(second).sagas).toEqual([
      expect.objectContaining({
        sagaId: runningId,
        found: 'trail open, workflow terminated',
        outcome: 'ROLLED_BACK',
      }),
    ]);
    expect(await rowCount(table, runningId)).toBe(0);
    expect(await nodeCount(runningId)).toBe(0);
  });

  it('treats a terminated workflow (history kept) as an orphan after the grace time; --daemon unwinds it', async () => {
    const table = await createTable('daemon');
    const name = `recover-daemon-${uid}`;
    const sagaId = `${name}-1`;
    const file = writeDefinition(name, {
      name,
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 'doc' } },
          compensation: 'relational_delete',
        },
        {
          id: 'call',
          backend: 'http',
          operation: 'request',
          payload: {
            service: 'nowhere',
            method: 'POST',
            path: '/documents',
            undo: { method: 'DELETE', path: '/documents/1' },
          },
          compensation: 'http_request',
          retry: { maximumAttempts: 0, initialInterval: '1s', maximumInterval: '2s' },
        },
      ],
    });
    const s = await cli(['start', file, '--json']);
    expect(s.code, s.stderr).toBe(0);
    await until('step call', async () =>
      (await readEvents(pool, sagaId)).some((e) => e.status === 'STEP_PENDING' && e.stepId === 'call'),
    );
    await temporal([
      'workflow',
      'terminate',
      '--workflow-id',
      sagaId,
      '--reason',
      'recover e2e: operator killed it',
    ]);
    expect(await workflowExists(sagaId)).toBe(true);

    // Within the default grace time (30 s) a just-stopped saga is not touched.
    const early = await cli(['recover', '--name', name, '--json']);
    expect(early.code, early.stderr).toBe(0);
    expect(parseReport(early).sagas).toEqual([]);
    expect(await rowCount(table, sagaId)).toBe(1);

    // The daemon picks it up once the grace time has passed, then keeps running until SIGTERM.
    const daemon = spawn(
      BIN,
      ['recover', '--daemon', '--interval', '1s', '--grace', '2s', '--name', name, '--json'],
      { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    daemon.stdout.on('data', (d: Buffer) => (out += d.toString()));
    daemon.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
    try {
      const pass = await until(
        'a daemon pass that unwinds the saga',
        () =>
          out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as RecoveryReport)
            .flatMap((r) => r.sagas)
            .find((x) => x.sagaId === sagaId && x.action === 'unwound'),
        60_000,
      );
      expect(pass).toMatchObject({
        kind: 'orphan',
        found: 'trail open, workflow terminated',
        outcome: 'ROLLED_BACK',
        compensated: ['row'],
        inDoubt: 'call',
      });
    } finally {
      daemon.kill('SIGTERM');
    }
    expect(await exited, err).toBe(0);
    expect(err).toMatch(/daemon/);
    expect(await rowCount(table, sagaId)).toBe(0);
    const events = await readEvents(pool, sagaId);
    expect(events.at(-1)?.status).toBe('SAGA_ROLLED_BACK');
    expect(statuses(events).filter((x) => x === 'SAGA_ROLLED_BACK')).toHaveLength(1);
    expect((await verifyTrail(pool, sagaId)).errors).toEqual([]);
  });

  it('restores consistency from the audit table alone when the namespace lost the workflow (never existed here)', async () => {
    const table = await createTable('reset');
    const name = `recover-reset-${uid}`;
    const sagaId = `${name}-1`;
    let resources: BackendResources | undefined;
    try {
      resources = await createBackendResources(config);
      const acts: SagaActivities = createActivities(resources, config);
      // What a worker did before the namespace was reset: two steps ran, the trail was written.
      const base = { sagaId, sagaName: name, traceId: `trace-${sagaId}` };
      const steps: {
        stepId: string;
        backend: string;
        operation: string;
        payload: JsonObject;
        compensation: string;
      }[] = [
        {
          stepId: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 'doc' } },
          compensation: 'relational_delete',
        },
        {
          stepId: 'node',
          backend: 'neo4j',
          operation: 'create_node',
          payload: { labels: [LABEL], properties: { id: sagaId } },
          compensation: 'graph_delete_node',
        },
      ];
      const trail: Omit<SagaEventInput, 'seq'>[] = [
        {
          ...base,
          runId: 'lost-run',
          stepId: null,
          status: 'SAGA_STARTED',
          payload: { name, totalSteps: 3 },
        },
      ];
      for (const s of steps) {
        const idempotencyKey = `${sagaId}:${s.stepId}`;
        const { result } = await acts.executeStep({
          ...base,
          stepId: s.stepId,
          backend: s.backend,
          operation: s.operation,
          payload: s.payload,
          idempotencyKey,
        });
        const entry: CompensationEntry = {
          stepId: s.stepId,
          backend: s.backend,
          compensation: s.compensation,
          payload: s.payload,
          result,
          idempotencyKey,
        };
        trail.push({
          ...base,
          runId: 'lost-run',
          stepId: s.stepId,
          status: 'STEP_PENDING',
          payload: { backend: s.backend, operation: s.operation, kind: 'compensatable', idempotencyKey },
        });
        trail.push({
          ...base,
          runId: 'lost-run',
          stepId: s.stepId,
          status: 'STEP_SUCCESS',
          payload: stepSuccessPayload(entry, { result }),
        });
      }
      for (const [i, e] of trail.entries()) await acts.recordEvent({ ...e, seq: i + 1 });
    } finally {
      await resources?.close();
    }
    expect(await rowCount(table, sagaId)).toBe(1);
    expect(await nodeCount(sagaId)).toBe(1);
    expect(await workflowExists(sagaId)).toBe(false);

    const rec = await cli(['recover', '--saga-id', sagaId, '--grace', '0s', '--json']);
    expect(rec.code, rec.stderr + rec.stdout).toBe(0);
    expect(parseReport(rec).sagas).toEqual([
      expect.objectContaining({
        sagaId,
        kind: 'orphan',
        action: 'unwound',
        outcome: 'ROLLED_BACK',
        inDoubt: null,
        compensated: ['node', 'row'],
      }),
    ]);
    expect(await rowCount(table, sagaId)).toBe(0);
    expect(await nodeCount(sagaId)).toBe(0);
    const events = await readEvents(pool, sagaId);
    expect(statuses(events).slice(5)).toEqual([
      'COMPENSATION_STARTED:node',
      'COMPENSATION_SUCCESS:node',
      'COMPENSATION_STARTED:row',
      'COMPENSATION_SUCCESS:row',
      'SAGA_ROLLED_BACK',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await verifyTrail(pool, sagaId)).errors).toEqual([]);

    // The text output and exit code of a pass with nothing left.
    const quiet = await cli(['recover', '--saga-id', sagaId, '--grace', '0s']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/nothing to do/);
  });
});
