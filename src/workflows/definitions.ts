/**
 * Names of the saga workflows' queries, signals and updates. Safe to import from client code
 * (defining them has no side effects). The names are stored in histories: do not rename.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReleaseLockInput } from '../saga/identity.js';
import type { ResolveInput, SagaStatus } from '../saga/status.js';

/** Current status of a saga (state, steps, pending compensation stack). */
export const statusQuery = defineQuery<SagaStatus>('statusQuery');
/** Abort: before the pivot the saga compensates, after the pivot it completes forward. */
export const abortSignal = defineSignal<[{ reason?: string }?]>('abortSignal');
/**
 * Abort with an answer: the validator refuses it unless the saga is PENDING or EXECUTING (the
 * failure names the state and the command that fits); accepted, it returns the status at once
 * (`abortRequested: true`). Same effect as {@link abortSignal}.
 */
export const abortUpdate = defineUpdate<SagaStatus, [{ reason?: string }]>('abortUpdate');
/** Operator: re-run the failed compensations (or the failed step after the pivot) of a FAILED saga. Returns the status after the retry round. */
export const retryCompensationUpdate = defineUpdate<SagaStatus, []>('retryCompensationUpdate');
/** Operator: close a FAILED saga as RESOLVED (fixed by hand). Returns the final status. */
export const resolveUpdate = defineUpdate<SagaStatus, [ResolveInput]>('resolveUpdate');

/** Lock-holder workflow: release the lock (ignored unless sent by the holder). */
export const releaseLockSignal = defineSignal<[ReleaseLockInput]>('releaseLockSignal');
/** Lock-holder workflow: the saga id holding the lock. */
export const lockHolderQuery = defineQuery<string>('lockHolderQuery');
