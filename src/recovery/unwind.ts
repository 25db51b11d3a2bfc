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
import type { CompensationEntry, EventStatus, JsonObject, SagaActivities } from '../saga/contracts.js';
import { backoffDelayMs, sleep, type Backoff } from './backoff.js';
import { describeError } from '../saga/errors.js';
import {
  analyzeTrail,
  compensationName,
  isTerminalStatus,
  recoveryPayload,
  type TrailAnalysis,
} from './trail.js';

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

/** Outcome of one direct unwind. */
export interface TrailUnwindResult {
  /** ROLLED_BACK, COMMITTED (every step of a saga past its pivot had succeeded), FAILED, or SKIPPED. */
  outcome: 'ROLLED_BACK' | 'COMMITTED' | 'FAILED' | 'SKIPPED';
  compensated: string[];
  failed: string[];
  /** A step whose outcome was never recorded (closed as STEP_FAIL; its effect is unknown). */
  inDoubt: string | null;
  /** Most tries any one compensation needed. */
  tries: number;
  detail: string;
  eventsWritten: number;
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
    if (got.rows[0]?.ok !== true) return skipped('another recover process is working on this saga');
    try {
      return await unwindLocked(sagaId, mode, deps);
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
    }
  } finally {
    lock.release();
  }
}

function skipped(detail: string): TrailUnwindResult {
  return {
    outcome: 'SKIPPED',
    compensated: [],
    failed: [],
    inDoubt: null,
    tries: 0,
    detail,
    eventsWritten: 0,
  };
}

async function unwindLocked(
  sagaId: string,
  mode: UnwindMode,
  deps: TrailUnwindDeps,
): Promise<TrailUnwindResult> {
  const events = await readEvents(deps.pool, sagaId);
  if (events.length === 0) return skipped('no audit events');
  const t = analyzeTrail(sagaId, events);
  if (mode === 'orphan' && isTerminalStatus(t.lastStatus))
    return skipped(`trail ended meanwhile (${t.lastStatus})`);
  if (mode === 'failed' && t.lastStatus !== 'SAGA_FAILED')
    return skipped(`trail no longer ends in SAGA_FAILED (${t.lastStatus})`);

  let seq = t.lastSeq;
  let written = 0;
  const write = async (
    status: EventStatus,
    stepId: string | null,
    extra: { payload?: JsonObject; error?: string; attempt?: number; durationMs?: number } = {},
  ) => {
    await deps.activities.recordEvent({
      sagaId,
      runId: t.runId,
      seq: ++seq,
      stepId,
      status,
      sagaName: t.sagaName,
      traceId: t.traceId,
      ...extra,
      payload: recoveryPayload(extra.payload),
    });
    written += 1;
  };
  const result = (r: Omit<TrailUnwindResult, 'eventsWritten' | 'inDoubt'>): TrailUnwindResult => ({
    ...r,
    inDoubt: t.openStep,
    eventsWritten: written,
  });

  if (mode === 'failed' && t.failedPhase === 'forward') {
    // Recorded FAILED after the pivot: only finishing forward helps, and the definition is gone.
    return result({
      outcome: 'FAILED',
      compensated: [],
      failed: [],
      tries: 0,
      detail: 'failed after its pivot and its workflow is gone: finish the step by hand',
    });
  }

  // Close what the vanished workflow left open, so that the trail stays a valid sequence.
  const gone = `outcome unknown: the saga's workflow is gone`;
  if (t.openStep !== null) {
    await write('STEP_FAIL', t.openStep, {
      error: `${gone} (step was PENDING; its effect may or may not exist)`,
      payload: { inDoubt: true },
    });
  }
  for (const stepId of t.openCompensations) {
    await write('COMPENSATION_FAIL', stepId, {
      error: `${gone} (compensation was running; it is run again)`,
    });
  }

  const failWith = async (phase: 'forward' | 'compensation', error: string, pending: string[]) => {
    await write('SAGA_FAILED', null, { error, payload: { phase, pending } });
  };

  if (t.stack === null) {
    const error = `cannot unwind from the audit trail: ${t.stackProblem ?? 'unknown stack'}`;
    if (mode === 'orphan' || written > 0) await failWith('compensation', error, []);
    return result({ outcome: 'FAILED', compensated: [], failed: [], tries: 0, detail: error });
  }

  if (t.pivotPassed && !t.committed && mode === 'orphan') {
    const all = t.totalSteps !== null && t.openStep === null && t.succeededSteps.length >= t.totalSteps;
    if (all) {
      await write('SAGA_COMMITTED', null, { payload: { completedSteps: t.succeededSteps.length } });
      return result({
        outcome: 'COMMITTED',
        compensated: [],
        failed: [],
        tries: 0,
        detail: 'every step had succeeded (past the pivot): recorded COMMITTED',
      });
    }
    const error = 'past its pivot and its workflow is gone: the remaining steps must be finished by hand';
    await failWith('forward', error, []);
    return result({ outcome: 'FAILED', compensated: [], failed: [], tries: 0, detail: error });
  }

  const stack = t.stack;
  const pendingIds = stack.map((e) => e.stepId);
  if (mode === 'failed') {
    await write('SAGA_RETRIED', null, { payload: { pending: pendingIds } });
  } else if (t.compensationFailedInRound || t.openCompensations.length > 0) {
    await failWith('compensation', `compensation failed for: ${pendingIds.join(', ')}`, pendingIds);
    await write('SAGA_RETRIED', null, { payload: { pending: pendingIds } });
  }

  const compensated: string[] = [];
  const failed: string[] = [];
  let maxTries = 0;
  for (const entry of [...stack].reverse()) {
    const r = await compensateWithRetries(entry, t, deps, write);
    maxTries = Math.max(maxTries, r.tries);
    (r.ok ? compensated : failed).push(entry.stepId);
  }
  if (failed.length === 0) {
    await write('SAGA_ROLLED_BACK', null, {
      payload: { compensated, ...(t.openStep ? { inDoubt: t.openStep } : {}) },
    });
    return result({
      outcome: 'ROLLED_BACK',
      compensated,
      failed,
      tries: maxTries,
      detail:
        `unwound ${compensated.length} compensation(s) from the audit trail` +
        (t.openStep ? `; step ${t.openStep} was in flight (no outcome recorded) and was not undone` : ''),
    });
  }
  const error = `compensation failed for: ${failed.join(', ')}`;
  await failWith('compensation', error, failed);
  return result({ outcome: 'FAILED', compensated, failed, tries: maxTries, detail: error });
}

async function compensateWithRetries(
  entry: CompensationEntry,
  t: TrailAnalysis,
  deps: TrailUnwindDeps,
  write: (
    status: EventStatus,
    stepId: string | null,
    extra?: { payload?: JsonObject; error?: string; attempt?: number; durationMs?: number },
  ) => Promise<void>,
): Promise<{ ok: boolean; tries: number }> {
  await write('COMPENSATION_STARTED', entry.stepId, { payload: { compensation: compensationName(entry) } });
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
      await write('COMPENSATION_SUCCESS', entry.stepId, {
        payload: { outcome: out.outcome, ...(out.detail ? { detail: out.detail } : {}) },
        attempt,
        durationMs: Date.now() - started,
      });
      return { ok: true, tries: attempt };
    } catch (err) {
      lastError = describeError(err);
      if (nonRetryable(err) || attempt === maxTries || deps.signal?.aborted) {
        await write('COMPENSATION_FAIL', entry.stepId, {
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
  await write('COMPENSATION_FAIL', entry.stepId, { error: lastError });
  return { ok: false, tries: maxTries };
}
