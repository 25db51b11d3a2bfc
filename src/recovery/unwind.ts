/**
 * Unwinding a saga from its audit trail alone, outside Temporal: for sagas whose workflow is
 * gone (not found, terminated, timed out). Calls the `compensateStep` activity function
 * directly, newest entry first, and mirrors every transition with `recordEvent`, continuing the
 * trail's seq, so that the trail stays a valid sequence of the saga state machine.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { connectClient } from '../audit/connection.js';
import { readEvents } from '../audit/index.js';
import type { CompensationEntry, SagaActivities } from '../saga/contracts.js';
import { backoffDelayMs, sleep, type Backoff } from './backoff.js';
import { describeError } from '../saga/errors.js';
import { TrailEventWriter } from './events.js';
import { unwindResult, type TrailUnwindResult } from './results.js';
import { analyzeTrail, compensationName, isTerminalStatus, type TrailAnalysis } from './trail.js';

export type { TrailUnwindResult } from './results.js';

/** What {@link unwindFromTrail} needs. */
export interface TrailUnwindDeps {
  pool: pg.Pool;
  /** `compensateStep` and `recordEvent` of `createActivities` (src/workers). */
  activities: Pick<SagaActivities, 'compensateStep' | 'recordEvent'>;
  /** Tries per compensation (at least 1). */
  maxTries: number;
  backoff: Backoff;
  signal?: AbortSignal;
}

/** Why the run ends here: `orphan` (trail not ended) or `failed` (trail ends in SAGA_FAILED). */
export type UnwindMode = 'orphan' | 'failed';

const nonRetryable = (err: unknown): boolean =>
  err instanceof ApplicationFailure && err.nonRetryable === true;

/**
 * Unwinds one saga whose workflow is gone from its audit trail. Takes a PostgreSQL advisory lock
 * per saga so that two recover processes never unwind the same saga at once, and re-reads the
 * trail under it (skips when the trail ended meanwhile).
 *
 * Events written, in order (all with `payload.recoveredBy = "polysaga recover"`):
 * - STEP_FAIL for a step left PENDING (its effect is unknown: write-ahead without outcome),
 *   COMPENSATION_FAIL for a compensation left STARTED (it is run again below);
 * - SAGA_FAILED + SAGA_RETRIED when a compensation of the current round had failed, or only
 *   SAGA_RETRIED when the trail ends in SAGA_FAILED (mode `failed`);
 * - per entry, newest first: COMPENSATION_STARTED, then COMPENSATION_SUCCESS or COMPENSATION_FAIL
 *   (after up to `maxTries` tries with exponential backoff; a non-retryable failure stops early);
 * - SAGA_ROLLED_BACK when all succeeded, else SAGA_FAILED listing the pending steps.
 * A saga past its pivot is not compensated: it ends SAGA_COMMITTED when every step had
 * succeeded, else SAGA_FAILED (phase `forward`) for a person. So does a trail whose stack
 * cannot be rebuilt. Compensations are idempotent, so running one again is safe.
 */
export async function unwindFromTrail(
  sagaId: string,
  mode: UnwindMode,
  deps: TrailUnwindDeps,
): Promise<TrailUnwindResult> {
  const lock = await connectClient(deps.pool);
  const key = `polysaga.recover:${sagaId}`;
  try {
    const got = await lock.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
      [key],
    );
    if (got.rows[0]?.ok !== true)
      return unwindResult('SKIPPED', 'another recover process is working on this saga');
    try {
      return await unwindLocked(sagaId, mode, deps);
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
    }
  } finally {
    lock.release();
  }
}

async function unwindLocked(
  sagaId: string,
  mode: UnwindMode,
  deps: TrailUnwindDeps,
): Promise<TrailUnwindResult> {
  const events = await readEvents(deps.pool, sagaId);
  if (events.length === 0) return unwindResult('SKIPPED', 'no audit events');
  const t = analyzeTrail(sagaId, events);
  if (mode === 'orphan' && isTerminalStatus(t.lastStatus))
    return unwindResult('SKIPPED', `trail ended meanwhile (${t.lastStatus})`);
  if (mode === 'failed' && t.lastStatus !== 'SAGA_FAILED')
    return unwindResult('SKIPPED', `trail no longer ends in SAGA_FAILED (${t.lastStatus})`);

  const rows = new TrailEventWriter(t, (e) => deps.activities.recordEvent(e));
  // Every result names the step left in doubt and counts the rows written.
  const result = (
    outcome: TrailUnwindResult['outcome'],
    detail: string,
    facts: { compensated?: string[]; failed?: string[]; tries?: number } = {},
  ): TrailUnwindResult =>
    unwindResult(outcome, detail, { ...facts, inDoubt: t.openStep, eventsWritten: rows.written });

  if (mode === 'failed' && t.failedPhase === 'forward') {
    // Recorded FAILED after the pivot: only finishing forward helps, and the definition is gone.
    return result('FAILED', 'failed after its pivot and its workflow is gone: finish the step by hand');
  }

  // Close what the vanished workflow left open, so that the trail stays a valid sequence.
  const gone = `outcome unknown: the saga's workflow is gone`;
  if (t.openStep !== null) {
    await rows.write('STEP_FAIL', t.openStep, {
      error: `${gone} (step was PENDING; its effect may or may not exist)`,
      payload: { inDoubt: true },
    });
  }
  for (const stepId of t.openCompensations) {
    await rows.write('COMPENSATION_FAIL', stepId, {
      error: `${gone} (compensation was running; it is run again)`,
    });
  }

  if (t.stack === null) {
    const error = `cannot unwind from the audit trail: ${t.stackProblem ?? 'unknown stack'}`;
    if (mode === 'orphan' || rows.written > 0) await rows.sagaFailed('compensation', error, []);
    return result('FAILED', error);
  }

  if (t.pivotPassed && !t.committed && mode === 'orphan') {
    const all = t.totalSteps !== null && t.openStep === null && t.succeededSteps.length >= t.totalSteps;
    if (all) {
      await rows.write('SAGA_COMMITTED', null, { payload: { completedSteps: t.succeededSteps.length } });
      return result('COMMITTED', 'every step had succeeded (past the pivot): recorded COMMITTED');
    }
    const error = 'past its pivot and its workflow is gone: the remaining steps must be finished by hand';
    await rows.sagaFailed('forward', error, []);
    return result('FAILED', error);
  }

  const stack = t.stack;
  const pendingIds = stack.map((e) => e.stepId);
  if (mode === 'failed') {
    await rows.write('SAGA_RETRIED', null, { payload: { pending: pendingIds } });
  } else if (t.compensationFailedInRound || t.openCompensations.length > 0) {
    await rows.sagaFailed('compensation', `compensation failed for: ${pendingIds.join(', ')}`, pendingIds);
    await rows.write('SAGA_RETRIED', null, { payload: { pending: pendingIds } });
  }

  const compensated: string[] = [];
  const failed: string[] = [];
  let maxTries = 0;
  for (const entry of [...stack].reverse()) {
    const r = await compensateWithRetries(entry, t, deps, rows);
    maxTries = Math.max(maxTries, r.tries);
    (r.ok ? compensated : failed).push(entry.stepId);
  }
  if (failed.length === 0) {
    await rows.write('SAGA_ROLLED_BACK', null, {
      payload: { compensated, ...(t.openStep ? { inDoubt: t.openStep } : {}) },
    });
    return result(
      'ROLLED_BACK',
      `unwound ${compensated.length} compensation(s) from the audit trail` +
        (t.openStep ? `; step ${t.openStep} was in flight (no outcome recorded) and was not undone` : ''),
      { compensated, failed, tries: maxTries },
    );
  }
  const error = `compensation failed for: ${failed.join(', ')}`;
  await rows.sagaFailed('compensation', error, failed);
  return result('FAILED', error, { compensated, failed, tries: maxTries });
}

async function compensateWithRetries(
  entry: CompensationEntry,
  t: TrailAnalysis,
  deps: TrailUnwindDeps,
  rows: TrailEventWriter,
): Promise<{ ok: boolean; tries: number }> {
  await rows.write('COMPENSATION_STARTED', entry.stepId, {
    payload: { compensation: compensationName(entry) },
  });
  const started = Date.now();
  let lastError = '';
  const maxTries = Math.max(1, deps.maxTries);
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    try {
      const out = await deps.activities.compensateStep({
        ...entry,
        sagaId: t.sagaId,
        sagaName: t.sagaName,
        traceId: t.traceId,
      });
      await rows.write('COMPENSATION_SUCCESS', entry.stepId, {
        payload: { outcome: out.outcome, ...(out.detail ? { detail: out.detail } : {}) },
        attempt,
        durationMs: Date.now() - started,
      });
      return { ok: true, tries: attempt };
    } catch (err) {
      lastError = describeError(err);
      if (nonRetryable(err) || attempt === maxTries || deps.signal?.aborted) {
        await rows.write('COMPENSATION_FAIL', entry.stepId, {
          error: lastError,
          attempt,
          durationMs: Date.now() - started,
        });
        return { ok: false, tries: attempt };
      }
      await sleep(backoffDelayMs(attempt, deps.backoff), deps.signal);
    }
  }
  // Unreachable: the loop returns on its last try.
  await rows.write('COMPENSATION_FAIL', entry.stepId, { error: lastError });
  return { ok: false, tries: maxTries };
}
