/**
 * `recover`: one recovery pass over sagas that need a hand.
 *
 * 1. FAILED sagas (Temporal visibility `SagaState = "FAILED"`, or a trail ending in SAGA_FAILED)
 *    whose workflow runs: `retryCompensation` up to `maxRetries` times with exponential backoff.
 * 2. Sagas whose workflow is gone (not found, or closed as terminated, timed out, failed or
 *    cancelled) while their trail is not ended, or ends in SAGA_FAILED: unwound from the audit
 *    trail alone ({@link unwindFromTrail}).
 * Sagas whose workflow still runs are never touched by step 2. One whose workflow task keeps
 * failing (stuck) is reported as needing a person (outcome STUCK, not consistent).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { getSagaTrailSummary } from '../audit/index.js';
import {
  detectStuck,
  SagaStateError,
  type SagaClient,
  type SagaStatus,
  type StuckInfo,
} from '../client/index.js';
import type { SagaActivities } from '../saga/contracts.js';
import { backoffDelayMs, sleep, type Backoff } from './backoff.js';
import { findFailedSagas, findUnfinishedSagas, type SagaFilter } from '../audit/index.js';
import { errorMessage, fromUnwind, sagaRecovery, type SagaRecovery, type SagaRef } from './results.js';
import { unwindFromTrail } from './unwind.js';

export type { SagaRecovery } from './results.js';

/** Where a saga's Temporal workflow stands. */
export type WorkflowPresence =
  | { kind: 'missing' }
  | { kind: 'running'; runId: string; stuck?: StuckInfo | null }
  | { kind: 'closed'; status: string; runId: string; closeTime: Date | null };

/** Looks up a saga's workflow (its latest run). */
export interface WorkflowProbe {
  presence(sagaId: string): Promise<WorkflowPresence>;
}

/**
 * A {@link WorkflowProbe} over a Temporal client (`describe`, strongly consistent, unlike
 * visibility). A running workflow whose workflow task keeps failing is reported `stuck`.
 */
export function temporalProbe(client: Client): WorkflowProbe {
  return {
    async presence(sagaId) {
      try {
        const d = await client.workflow.getHandle(sagaId).describe();
        if (d.status.name === 'RUNNING')
          return { kind: 'running', runId: d.runId, stuck: await detectStuck(client, d) };
        return { kind: 'closed', status: d.status.name, runId: d.runId, closeTime: d.closeTime ?? null };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { kind: 'missing' };
        throw err;
      }
    },
  };
}

/** Options of {@link recover}. */
export interface RecoverOptions {
  /** PostgreSQL pool of the audit table. */
  pool: pg.Pool;
  sagaClient: Pick<SagaClient, 'listSagas' | 'retryCompensation' | 'getStatus'>;
  workflows: WorkflowProbe;
  /**
   * `compensateStep` and `recordEvent` (from `createActivities` of src/workers). Called once,
   * on the first saga that must be unwound directly, so that a pass with nothing to unwind
   * needs no backend connections.
   */
  activities: () => Promise<Pick<SagaActivities, 'compensateStep' | 'recordEvent'>>;
  /** Tries per saga (FAILED: retryCompensation calls; orphans: tries per compensation). Default 3; 0 = report only. */
  maxRetries?: number;
  /** First backoff interval (default 1 s), doubled after each failed try. */
  initialIntervalMs?: number;
  /** Backoff cap (default 60 s). */
  maximumIntervalMs?: number;
  /**
   * Quiet time before an unfinished trail counts as an orphan (default 30 s): its last event,
   * and the close of its workflow, must be at least this old, so that activities still in
   * flight on a worker of a just-terminated workflow have ended.
   */
  graceMs?: number;
  /** Only these sagas / this saga name. */
  filter?: SagaFilter;
  /**
   * Asked before a FAILED or orphaned saga is acted on: a reason string defers it to a later
   * pass (reported as `skipped`), null proceeds. The daemon uses it to back off per saga.
   */
  defer?: (sagaId: string) => string | null;
  /** Called after each saga is handled (progress output). */
  onSaga?: (r: SagaRecovery) => void;
  /** Stops between sagas and cuts backoff waits short. */
  signal?: AbortSignal;
}

/** The result of one pass. */
export interface RecoveryReport {
  startedAt: string;
  finishedAt: string;
  sagas: SagaRecovery[];
  /** Every saga found ends consistent (exit code 0). */
  consistent: boolean;
}

/**
 * Runs one recovery pass and reports per saga what it did.
 * Side effects: `retryCompensation` updates of FAILED workflows; for orphans, compensations
 * run directly against the backends and events appended to `uds3_saga_events`.
 */
export async function recover(options: RecoverOptions): Promise<RecoveryReport> {
  const startedAt = new Date().toISOString();
  const maxRetries = options.maxRetries ?? 3;
  const backoff: Backoff = {
    initialIntervalMs: options.initialIntervalMs ?? 1000,
    maximumIntervalMs: options.maximumIntervalMs ?? 60_000,
  };
  const graceMs = options.graceMs ?? 30_000;
  const filter = options.filter ?? {};
  const sagas: SagaRecovery[] = [];
  const seen = new Set<string>();
  let activities: Pick<SagaActivities, 'compensateStep' | 'recordEvent'> | undefined;
  const pass: Pass = {
    options,
    maxRetries,
    backoff,
    graceMs,
    getActivities: async () => (activities ??= await options.activities()),
  };
  const emit = (r: SagaRecovery) => {
    sagas.push(r);
    options.onSaga?.(r);
  };
  const stopped = () => options.signal?.aborted === true;

  // 1. FAILED sagas: from visibility (running workflows) and from the audit trail.
  const failed = new Map<string, string | null>();
  for (const s of await options.sagaClient.listSagas({
    state: 'FAILED',
    ...(filter.name ? { name: filter.name } : {}),
    limit: filter.limit ?? 1000,
  })) {
    // Keyed by workflow id, as the audit table names sagas (in a scope: `@<scope>/<sagaId>`).
    const id = s.workflowId;
    if (filter.sagaIds && filter.sagaIds.length > 0 && !filter.sagaIds.includes(id)) continue;
    failed.set(id, s.name);
  }
  for (const s of await findFailedSagas(options.pool, filter))
    if (!failed.has(s.sagaId)) failed.set(s.sagaId, s.sagaName);

  const deferred = (
    sagaId: string,
    sagaName: string | null,
    kind: 'failed' | 'orphan',
    found: string,
  ): boolean => {
    const reason = options.defer?.(sagaId) ?? null;
    if (reason === null) return false;
    emit(
      sagaRecovery({ sagaId, sagaName, kind, found }, kind === 'failed' ? 'FAILED' : 'ORPHAN', reason, {
        action: 'skipped',
      }),
    );
    return true;
  };

  for (const [sagaId, sagaName] of failed) {
    if (stopped()) break;
    if (deferred(sagaId, sagaName, 'failed', 'FAILED')) {
      seen.add(sagaId);
      continue;
    }
    const r = await handleFailed(sagaId, sagaName, pass);
    // null: FAILED only in (lagging) visibility; the trail says otherwise, so the second pass decides.
    if (r === null) continue;
    seen.add(sagaId);
    emit(r);
  }

  // 2. Unfinished trails: orphans when the workflow is gone, else left alone.
  for (const s of await findUnfinishedSagas(options.pool, { ...filter, idleMs: graceMs })) {
    if (stopped()) break;
    if (seen.has(s.sagaId)) continue;
    seen.add(s.sagaId);
    emit(await handleOpenTrail(s.sagaId, s.sagaName, pass));
  }

  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    sagas,
    consistent: sagas.every((s) => s.consistent),
  };
}

/** What one pass decided for every saga it handles. */
interface Pass {
  options: RecoverOptions;
  maxRetries: number;
  backoff: Backoff;
  graceMs: number;
  /** The activities, created on the first saga that must be unwound directly. */
  getActivities: () => Promise<Pick<SagaActivities, 'compensateStep' | 'recordEvent'>>;
}

/** A running saga whose workflow task keeps failing: nothing recover can do but say so. */
function stuckReport(sagaId: string, sagaName: string | null, found: string, stuck: StuckInfo): SagaRecovery {
  return sagaRecovery(
    { sagaId, sagaName, kind: 'stuck', found: `${found}, workflow task failing` },
    'STUCK',
    `${stuck.cause} (${stuck.attempts} attempts): ${stuck.message.split('\n')[0]}; run \`polysaga abort --terminate ${sagaId}\`, then recover again`,
  );
}

function presenceText(p: WorkflowPresence): string {
  if (p.kind === 'missing') return 'workflow not found';
  if (p.kind === 'running') return 'workflow running';
  return `workflow ${p.status.toLowerCase()}`;
}

/** A closed workflow whose close is younger than the grace time may still have activities in flight. */
function closedRecently(p: WorkflowPresence, graceMs: number): boolean {
  return p.kind === 'closed' && p.closeTime !== null && Date.now() - p.closeTime.getTime() < graceMs;
}

async function handleFailed(
  sagaId: string,
  sagaName: string | null,
  pass: Pass,
): Promise<SagaRecovery | null> {
  let presence: WorkflowPresence;
  try {
    presence = await pass.options.workflows.presence(sagaId);
  } catch (err) {
    return sagaRecovery(
      { sagaId, sagaName, kind: 'failed', found: 'FAILED' },
      'ERROR',
      `cannot describe the workflow: ${errorMessage(err)}`,
    );
  }
  const ref: SagaRef = { sagaId, sagaName, kind: 'failed', found: `FAILED, ${presenceText(presence)}` };
  if (presence.kind === 'running' && presence.stuck)
    return stuckReport(sagaId, sagaName, ref.found, presence.stuck);
  if (presence.kind === 'running') return retryRunning(ref, pass);
  const trail = await getSagaTrailSummary(pass.options.pool, sagaId);
  if (trail === null)
    return sagaRecovery(
      ref,
      'FAILED',
      'FAILED in Temporal visibility, but its workflow is gone and it has no audit trail to unwind from',
    );
  if (trail.lastStatus !== 'SAGA_FAILED') return null;
  return unwindClosed(ref, presence, 'failed', pass, 'the audit trail ends in SAGA_FAILED');
}

async function retryRunning(ref: SagaRef, pass: Pass): Promise<SagaRecovery> {
  const { options, maxRetries, backoff } = pass;
  if (maxRetries < 1) return sagaRecovery(ref, 'FAILED', 'max retries 0: reported only');
  let status: SagaStatus | null = null;
  let lastError = '';
  let tries = 0;
  for (let attempt = 1; attempt <= maxRetries; attempt++) {
    tries = attempt;
    try {
      status = await options.sagaClient.retryCompensation(ref.sagaId);
    } catch (err) {
      if (!(err instanceof SagaStateError)) {
        lastError = errorMessage(err);
        status = null;
      } else {
        // Not FAILED (any more): visibility lags, or someone else retried or resolved it.
        const current = await options.sagaClient.getStatus(ref.sagaId).catch(() => null);
        if (current && current.state !== 'FAILED')
          return sagaRecovery(ref, current.state, `no longer FAILED (${current.state})`, {
            tries: attempt - 1,
            consistent: true,
          });
        status = null;
        lastError = errorMessage(err);
      }
    }
    if (status && status.state !== 'FAILED') break;
    if (status) lastError = status.error ?? 'still FAILED';
    if (attempt < maxRetries && options.signal?.aborted !== true)
      await sleep(backoffDelayMs(attempt, backoff), options.signal);
  }
  const triesText = `${tries} ${tries === 1 ? 'try' : 'tries'}`;
  if (status && status.state !== 'FAILED')
    return sagaRecovery(ref, status.state, `retryCompensation: ${status.state} after ${triesText}`, {
      action: 'retried',
      tries,
      consistent: true,
      compensated: status.steps.filter((s) => s.state === 'COMPENSATED').map((s) => s.id),
    });
  return sagaRecovery(
    ref,
    status ? 'FAILED' : 'ERROR',
    `still ${status ? 'FAILED' : 'unreachable'} after ${triesText}: ${lastError}`,
    {
      action: 'retried',
      tries,
      ...(status ? { failedCompensations: status.compensationStack.map((e) => e.stepId) } : {}),
    },
  );
}

async function handleOpenTrail(sagaId: string, sagaName: string | null, pass: Pass): Promise<SagaRecovery> {
  let presence: WorkflowPresence;
  try {
    presence = await pass.options.workflows.presence(sagaId);
  } catch (err) {
    return sagaRecovery(
      { sagaId, sagaName, kind: 'orphan', found: 'trail open' },
      'ERROR',
      `cannot describe the workflow: ${errorMessage(err)}`,
    );
  }
  const found = `trail open, ${presenceText(presence)}`;
  if (presence.kind === 'running' && presence.stuck)
    return stuckReport(sagaId, sagaName, found, presence.stuck);
  if (presence.kind === 'running')
    return sagaRecovery({ sagaId, sagaName, kind: 'running', found }, 'RUNNING', 'in progress; left alone', {
      consistent: true,
    });
  const ref: SagaRef = { sagaId, sagaName, kind: 'orphan', found };
  return unwindClosed(ref, presence, 'orphan', pass, 'its trail has no terminal event');
}

/**
 * A saga whose workflow is closed or gone: unwound from its trail once the workflow has been
 * closed for the grace time (an orphan also asks `defer`). A workflow that completed while its
 * trail did not end (`mismatch` says how) is an error to look at.
 */
async function unwindClosed(
  ref: SagaRef,
  presence: WorkflowPresence,
  mode: 'failed' | 'orphan',
  pass: Pass,
  mismatch: string,
): Promise<SagaRecovery> {
  const waiting = mode === 'failed' ? 'FAILED' : 'ORPHAN';
  if (presence.kind === 'closed' && presence.status === 'COMPLETED')
    return sagaRecovery(ref, 'ERROR', `the workflow completed but ${mismatch}; check the audit table`);
  if (closedRecently(presence, pass.graceMs))
    return sagaRecovery(ref, waiting, 'workflow closed less than the grace time ago; next pass', {
      action: 'skipped',
    });
  const reason = mode === 'orphan' ? (pass.options.defer?.(ref.sagaId) ?? null) : null;
  if (reason !== null) return sagaRecovery(ref, waiting, reason, { action: 'skipped' });
  return unwindGone(ref, mode, pass);
}

async function unwindGone(ref: SagaRef, mode: 'failed' | 'orphan', pass: Pass): Promise<SagaRecovery> {
  const { options, maxRetries, backoff } = pass;
  if (maxRetries < 1)
    return sagaRecovery(ref, mode === 'failed' ? 'FAILED' : 'ORPHAN', 'max retries 0: reported only');
  try {
    const r = await unwindFromTrail(ref.sagaId, mode, {
      pool: options.pool,
      activities: await pass.getActivities(),
      maxTries: maxRetries,
      backoff,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return fromUnwind(ref, r);
  } catch (err) {
    return sagaRecovery(ref, 'ERROR', errorMessage(err), { action: 'unwound' });
  }
}
