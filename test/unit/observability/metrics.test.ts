/**
 * Counting semantics of polysaga's metrics: a row counts once, where it is inserted (a retry that
 * finds its row stored counts nothing); a FAILED rollback with a failed compensation is a
 * partial rollback failure, its latency measured from the first compensation start.
 */
import { describe, expect, it } from 'vitest';
import { createTransitionActivities } from '../../../src/activities/transitions.js';
import type { AuditEvent } from '../../../src/audit/event-store.js';
import { SagaMetrics } from '../../../src/observability/metrics.js';
import type { EventStatus, RunStepInput, SagaEventInput } from '../../../src/saga/contracts.js';

const base = { sagaId: 's1', runId: 'r', sagaName: 'orders', traceId: 't' };
const ev = (seq: number, status: EventStatus, stepId: string | null = null): SagaEventInput => ({
  ...base,
  seq,
  status,
  stepId,
});

async function value(
  m: SagaMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const baseName = name.replace(/_(sum|count|bucket)$/, '');
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name || x.name === baseName);
  return metric?.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? metric.name) === name &&
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )?.value;
}

describe('SagaMetrics', () => {
  it('a step counts once: the retry whose rows are already stored observes nothing', async () => {
    const metrics = new SagaMetrics();
    const stored = new Set<number>();
    const acts = createTransitionActivities({
      steps: {
        executeStep: () => Promise.resolve({ result: { id: 1 } }),
        compensateStep: () => Promise.resolve({ outcome: 'undone' as const }),
      },
      recordEvent: (e) => {
        const inserted = !stored.has(e.seq);
        stored.add(e.seq);
        return Promise.resolve({ inserted });
      },
      observer: metrics,
    });
    const input: RunStepInput = {
      ...base,
      step: {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table: 'orders', values: { id: 1 } },
        idempotencyKey: 's1:row',
      } as unknown as RunStepInput['step'],
      audit: { before: [ev(1, 'SAGA_STARTED')], start: ev(2, 'STEP_PENDING', 'row'), outcomeSeq: 3 },
    };
    await acts.runStep(input);
    await acts.runStep(input); // the same activity again (a retry after its completion was lost)
    expect(await value(metrics, 'polysaga_sagas_started_total', { saga: 'orders' })).toBe(1);
    expect(
      await value(metrics, 'polysaga_step_duration_seconds_count', {
        saga: 'orders',
        backend: 'postgres',
        operation: 'insert',
        outcome: 'success',
      }),
    ).toBe(1);
  });

  it('FAILED after a failed compensation: a partial rollback failure, latency from the first compensation', async () => {
    const t0 = new Date('2026-12-01T00:00:00Z');
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const row = (seq: number, status: EventStatus, ms: number): AuditEvent => ({
      id: null,
      sagaId: 's1',
      runId: 'r',
      seq,
      stepId: null,
      status,
      sagaName: 'orders',
      payload: {},
      error: null,
      traceId: 't',
      attempt: null,
      durationMs: null,
      createdAt: at(ms),
    });
    const trail = [
      row(1, 'SAGA_STARTED', 0),
      row(5, 'STEP_FAIL', 100),
      row(6, 'COMPENSATION_STARTED', 200),
      row(7, 'COMPENSATION_FAIL', 1200),
      row(8, 'SAGA_FAILED', 2200),
    ];
    const metrics = new SagaMetrics({ readTrail: () => Promise.resolve(trail) });
    await metrics.recorded(
      { ...ev(7, 'COMPENSATION_FAIL', 'row'), durationMs: 1000 },
      {
        kind: 'compensation',
        backend: 'postgres',
        operation: 'relational_delete',
      },
    );
    await metrics.recorded(ev(8, 'SAGA_FAILED'));
    expect(await value(metrics, 'polysaga_sagas_failed_total', { saga: 'orders' })).toBe(1);
    expect(await value(metrics, 'polysaga_partial_rollback_failures_total', { saga: 'orders' })).toBe(1);
    expect(
      await value(metrics, 'polysaga_compensation_failures_total', {
        backend: 'postgres',
        operation: 'relational_delete',
      }),
    ).toBe(1);
    expect(
      await value(metrics, 'polysaga_rollback_duration_seconds_sum', { saga: 'orders', outcome: 'failed' }),
    ).toBeCloseTo(2.0);
  });
});
