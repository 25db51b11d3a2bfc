/**
 * The patch ids of the saga engine (`patched()` markers in histories): each keeps sagas started
 * before a change on their old behaviour when they replay. Never rename one.
 */

/**
 * Patch id of the one-activity-per-step shape: each step and compensation is one activity
 * that writes its own audit rows, saga-level rows ride with the next activity or a local
 * activity. Sagas whose history lacks the marker (started before it) keep the old shape: a
 * `recordEvent` activity per transition.
 */
export const ONE_ACTIVITY_PER_STEP_PATCH = 'polysaga-one-activity-per-step';

/**
 * Patch id of "abort cancels the running step": each step activity runs in a cancellation scope
 * of its own, and an abort (or workflow cancellation) that arrives while a compensatable step
 * before the pivot runs cancels that step's activity, so the saga unwinds at once instead of
 * after the step's whole retry policy. Checked once, when the saga starts: sagas whose history
 * lacks the marker (started before it) keep the old behaviour (the step finishes first). The
 * check must come first because, in histories recorded without the SDK flag that shields
 * non-cancellable scopes, a workflow cancellation would reach any new scope.
 */
export const ABORT_CANCELS_STEP_PATCH = 'polysaga-abort-cancels-step';

/**
 * Patch id of "a rolled-back saga fails its workflow": a saga that ends ROLLED_BACK throws a
 * non-retryable `polysaga.SagaRolledBack` failure carrying its result (src/saga/outcome.ts), so
 * Temporal and its Web UI show the run as Failed. Checked only when a saga ends ROLLED_BACK
 * (the marker is the last command but one): sagas whose history ended before it complete.
 */
export const ROLLED_BACK_FAILS_WORKFLOW_PATCH = 'polysaga-rolled-back-fails-workflow';
