/**
 * Metrics, traces and logs of a real worker on the stack's Temporal dev server:
 * - metrics: a committed and a rolled-back saga; `/metrics` (served on a free port) counts each
 *   once with its saga name, observes the step and compensation latencies with backend,
 *   operation and outcome, the rollback latency, and appends the SDK's runtime metrics;
 * - traces: the rolled-back saga (2 steps, the second fails) started inside a caller's span gives
 *   one trace that continues the caller's: spans of the workflow, both steps and the
 *   compensation with saga id, step id, backend and operation; the saga's traceId is the
 *   caller's trace id;
 * - logs: every line of the worker process (SDK lines included) is a JSON object with timestamp,
 *   level and message; the step lines carry sagaId, stepId and traceId, the SDK's "Activity
 *   failed" line names saga and step, the SDK's workflow lines the saga and its trace.
 */
import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SagaClient } from '../../../src/client/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { dashboardMetricNames } from '../../helpers/dashboard.js';
import { createStructuredLogger } from '../../../src/observability/logging.js';
import { freeLoopbackPort } from '../../../src/observability/metrics.js';
import { setupTracing, type Tracing } from '../../../src/observability/tracing.js';
import type { SagaResult } from '../../../src/saga/status.js';
import type { SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const table = `obs_${run}`;
const taskQueue = `polysaga-obs-${run}`;
const name = `obs-${run}`;

const lines: string[] = [];
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let env: InProcessSagas;
let worker: SagaWorker;
let sagas: SagaClient;
let committed: SagaResult;
let rolledBack: SagaResult;
let callerTraceId: string;
let callerSpanId: string;

const step = (id: string, tableName: string, sagaId: string) => ({
  id,
  backend: 'postgres',
  operation: 'insert',
  payload: { table: tableName, values: { id: sagaId, title: id } },
});

beforeAll(async () => {
  const sdkMetricsPort = await freeLoopbackPort();
  Runtime.install({
    logger: createStructuredLogger('DEBUG', { format: 'json', write: (l) => void lines.push(l) }),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } },
    },
  });
  tracing = setupTracing({ exporter, serviceName: 'polysaga-test' })!;
  env = await startInProcessSagas({
    config,
    taskQueue,
    worker: {
      tracing,
      metrics: { port: 0, host: '127.0.0.1', sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics` },
    },
    tables: [`${table} (id text PRIMARY KEY, title text NOT NULL)`],
  });
  ({ worker, sagas } = env);

  committed = await sagas.executeSaga({
    name,
    sagaId: `obs-ok-${run}`,
    steps: [step('row', table, `obs-ok-${run}`)],
  });
  // The rolled-back saga runs inside a caller's span: its trace must continue there.
  const tracer = trace.getTracer('obs-test');
  rolledBack = await tracer.startActiveSpan('caller', async (span) => {
    callerTraceId = span.spanContext().traceId;
    callerSpanId = span.spanContext().spanId;
    try {
      return await sagas.executeSaga({
        name,
        sagaId: `obs-fail-${run}`,
        steps: [
          step('row', table, `obs-fail-${run}`),
          // A permanent failure: the table does not exist.
          step('boom', `${table}_missing`, `obs-fail-${run}`),
        ],
      });
    } finally {
      span.end();
    }
  });
}, 120_000);

afterAll(async () => {
  await env?.close();
  await tracing?.shutdown();
});

/** `name{labels} value` samples of one metric whose labels include `where`. */
function samples(text: string, metric: string, where: Record<string, string>): number[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `))
    .filter((l) => Object.entries(where).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .map((l) => Number(l.split(' ').at(-1)));
}

describe('metrics', () => {
  it('the sagas ended as expected', () => {
    expect(committed.status.state).toBe('COMMITTED');
    expect(rolledBack.status.state).toBe('ROLLED_BACK');
  });

  it('/metrics counts each saga once by name, with latencies by backend, operation and outcome', async () => {
    const res = await fetch(worker.metricsServer!.url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(samples(text, 'polysaga_sagas_started_total', { saga: name })).toEqual([2]);
    expect(samples(text, 'polysaga_sagas_committed_total', { saga: name })).toEqual([1]);
    expect(samples(text, 'polysaga_sagas_rolled_back_total', { saga: name })).toEqual([1]);
    expect(samples(text, 'polysaga_sagas_failed_total', { saga: name })).toEqual([]);
    // Steps: two successful inserts (one per saga), one failed insert.
    const stepLabels = { saga: name, backend: 'postgres', operation: 'insert' };
    expect(
      samples(text, 'polysaga_step_duration_seconds_count', { ...stepLabels, outcome: 'success' }),
    ).toEqual([2]);
    expect(
      samples(text, 'polysaga_step_duration_seconds_count', { ...stepLabels, outcome: 'failure' }),
    ).toEqual([1]);
    // The compensation of the first step of the rolled-back saga.
    expect(
      samples(text, 'polysaga_compensation_duration_seconds_count', {
        saga: name,
        backend: 'postgres',
        operation: 'relational_delete',
        outcome: 'success',
      }),
    ).toEqual([1]);
    expect(
      samples(text, 'polysaga_rollback_duration_seconds_count', { saga: name, outcome: 'rolled_back' }),
    ).toEqual([1]);
    expect(samples(text, 'polysaga_sagas_in_flight', { saga: name })).toEqual([0]);
    // The SDK's runtime metrics follow polysaga's; the dashboard queries only exported ones.
    expect(text).toMatch(/^temporal_\w+/m);
    const exported = new Set(text.split('\n').map((l) => /^([a-z_0-9]+)/.exec(l)?.[1]));
    expect(dashboardMetricNames().filter((n) => n.startsWith('temporal_') && !exported.has(n))).toEqual([]);
  });
});

describe('traces', () => {
  const attr = (s: ReadableSpan, k: string) => s.attributes[k];

  it('one trace continues the caller: the saga, both steps and the compensation, with attributes', async () => {
    await tracing.processor.forceFlush();
    const sagaId = `obs-fail-${run}`;
    expect(rolledBack.status.traceId ?? (await sagas.getStatus(sagaId)).traceId).toBe(callerTraceId);
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === callerTraceId);
    const names = spans.map((s) => s.name);
    expect(names).toContain('caller');
    expect(names).toContain('StartWorkflow:sagaWorkflow');
    const runWorkflow = spans.find((s) => s.name === 'RunWorkflow:sagaWorkflow');
    expect(runWorkflow).toBeDefined();
    expect(attr(runWorkflow!, 'polysaga.saga_id')).toBe(sagaId);
    expect(attr(runWorkflow!, 'polysaga.trace_id')).toBe(callerTraceId);
    const start = spans.find((s) => s.name === 'StartWorkflow:sagaWorkflow')!;
    expect(start.parentSpanContext?.spanId).toBe(callerSpanId);

    const steps = spans.filter((s) => s.name === 'RunActivity:runStep');
    expect(steps.map((s) => attr(s, 'polysaga.step_id')).sort()).toEqual(['boom', 'row']);
    for (const s of steps) {
      expect(attr(s, 'polysaga.saga_id')).toBe(sagaId);
      expect(attr(s, 'polysaga.backend')).toBe('postgres');
      expect(attr(s, 'polysaga.operation')).toBe('insert');
      expect(attr(s, 'polysaga.kind')).toBe('step');
    }
    const comps = spans.filter((s) => s.name === 'RunActivity:runCompensation');
    expect(comps).toHaveLength(1);
    expect(attr(comps[0]!, 'polysaga.step_id')).toBe('row');
    expect(attr(comps[0]!, 'polysaga.operation')).toBe('relational_delete');
    expect(attr(comps[0]!, 'polysaga.kind')).toBe('compensation');
    // The workflow spans keep their parents (the workflow's StartActivity spans).
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    for (const s of [...steps, ...comps]) expect(ids.has(s.parentSpanContext?.spanId ?? '')).toBe(true);
    expect(ids.has(runWorkflow!.parentSpanContext?.spanId ?? '')).toBe(true);
  });
});

describe('logs', () => {
  it('every line is JSON with timestamp and level; step lines carry sagaId, stepId and traceId', async () => {
    // The SDK hands log entries to the logger asynchronously: wait for the last ones of the saga.
    await vi.waitFor(
      () => {
        expect(lines.some((l) => l.includes('"message":"Activity failed"'))).toBe(true);
        expect(lines.some((l) => l.includes(`[obs-fail-${run}] rollback of step row`))).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(lines.length).toBeGreaterThan(0);
    const records = lines.map((l) => {
      expect(l.endsWith('\n')).toBe(true);
      return JSON.parse(l) as Record<string, unknown>;
    });
    for (const r of records) {
      expect(Number.isNaN(Date.parse(String(r.timestamp)))).toBe(false);
      expect(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(r.level);
      expect(typeof r.message).toBe('string');
      expect(r).toHaveProperty('sagaId');
      expect(r).toHaveProperty('stepId');
      expect(r).toHaveProperty('traceId');
    }
    const sagaId = `obs-fail-${run}`;
    const stepLines = records.filter((r) => r.sagaId === sagaId && r.stepId === 'boom');
    expect(stepLines.length).toBeGreaterThan(0);
    for (const r of stepLines) expect(r.traceId).toBe(callerTraceId);
    // The SDK's own line of the failed activity names the saga and step too.
    const sdkFailed = records.find((r) => r.message === 'Activity failed' && r.stepId === 'boom');
    expect(sdkFailed?.sagaId).toBe(sagaId);
    expect(sdkFailed?.activityType).toBe('runStep');
    // The SDK's workflow lines (DEBUG: "Workflow started", …) name the saga and its trace.
    const workflowLines = records.filter((r) => r.sdkComponent === 'workflow' && r.workflowId === sagaId);
    expect(workflowLines.length).toBeGreaterThan(0);
    for (const r of workflowLines) {
      expect(r.sagaId).toBe(sagaId);
      expect(r.traceId).toBe(callerTraceId);
    }
  });
});
