/**
 * `polysaga worker --metrics-port` as a user runs it (a child process, JSON logs because stderr
 * is a pipe): a saga started with `polysaga start --wait` commits; `/metrics` counts it with its
 * name and appends the SDK's runtime metrics; every line the worker wrote is a JSON object with
 * timestamp, level, sagaId, traceId and stepId, and the step lines name the saga and step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { freeLoopbackPort } from '../../src/observability/metrics.js';
import { polysaga, POLYSAGA_BIN } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-telemetry-${run}`, LOG_LEVEL: 'INFO' };
const table = `e2e_telemetry_${run}`;
const name = `e2e-telemetry-${run}`;
const sagaId = `telemetry-${run}`;
let pool: pg.Pool;
let child: ChildProcess;
let stderr = '';
let port: number;

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text NOT NULL)`);
  port = await freeLoopbackPort();
  child = spawn(POLYSAGA_BIN, ['worker', '--metrics-port', String(port)], {
    env: { ...process.env, ...env, POLYSAGA_LOG_FORMAT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (stderr.includes('polysaga worker polling')) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`worker exited with ${code}: ${stderr}`));
    });
  });
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await pool?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await pool?.end();
});

describe('polysaga worker --metrics-port', () => {
  it('serves /metrics with the saga counted and the SDK metrics; every log line is JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-telemetry-'));
    const file = join(dir, 'def.json');
    writeFileSync(
      file,
      JSON.stringify({
        name,
        sagaId,
        steps: [
          {
            id: 'row',
            backend: 'postgres',
            operation: 'insert',
            payload: { table, values: { id: sagaId, title: 't' } },
          },
        ],
      }),
    );
    const started = await polysaga(['start', file, '--wait'], env);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain(`polysaga_sagas_started_total{saga="${name}"} 1`);
    expect(text).toContain(`polysaga_sagas_committed_total{saga="${name}"} 1`);
    expect(text).toContain(
      `polysaga_step_duration_seconds_count{saga="${name}",backend="postgres",operation="insert",outcome="success"} 1`,
    );
    expect(text).toMatch(/^temporal_\w+/m);

    // The SDK hands log entries to the logger asynchronously: wait for the step's last line.
    await vi.waitFor(() => expect(stderr).toContain(`[${sagaId}] step row (postgres.insert) succeeded`), {
      timeout: 15_000,
      interval: 100,
    });
    const lines = stderr.split('\n').filter((l) => l !== '');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(Number.isNaN(Date.parse(String(r.timestamp)))).toBe(false);
      expect(r).toHaveProperty('level');
      expect(r).toHaveProperty('sagaId');
      expect(r).toHaveProperty('traceId');
      expect(r).toHaveProperty('stepId');
    }
    const stepLines = records.filter((r) => r.sagaId === sagaId && r.stepId === 'row');
    expect(stepLines.length).toBeGreaterThan(0);
    for (const r of stepLines) expect(typeof r.traceId).toBe('string');
  });
});
