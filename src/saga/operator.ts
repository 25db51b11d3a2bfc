/**
 * What the operator commands (abort, retry, resolve) may do in each saga state, and the one-line
 * refusals that say why not and which command fits instead. Pure: used by the workflow's update
 * validators and by the client, so both speak in saga states (never Temporal's workflow status).
 */
import type { SagaState } from './contracts.js';

/** The failure type of a refused operator request (validator) and of the client's `SagaStateError`. */
export const SAGA_STATE_FAILURE_TYPE = 'polysaga.SagaState';

/** Which part of a FAILED saga failed: a compensation (unwind) or a forward step after the pivot. */
export type FailedPhase = 'compensation' | 'step';

/**
 * Why `abort` is refused in `state`, or null when it is accepted (PENDING, EXECUTING).
 * `running`: whether the saga's workflow still runs (a COMMITTED one that runs is an undo starting).
 */
export function abortRefusal(
  sagaId: string,
  state: SagaState,
  options: { running: boolean; failedPhase?: FailedPhase },
): string | null {
  switch (state) {
    case 'PENDING':
    case 'EXECUTING':
      return null;
    case 'FAILED':
      return (
        `saga ${sagaId} is FAILED: it ${options.failedPhase === 'step' ? 'failed after its pivot' : 'has already tried to undo its steps'} ` +
        `and waits for an operator, so there is nothing left to abort; run \`polysaga retry ${sagaId}\` to run ` +
        `${options.failedPhase === 'step' ? 'the failed step' : 'the failed compensations'} again, or ` +
        `\`polysaga resolve ${sagaId} --reason <text>\` once you have dealt with ` +
        `${options.failedPhase === 'step' ? 'it' : 'them'} by hand`
      );
    case 'COMPENSATING':
      return `saga ${sagaId} is COMPENSATING: it is already undoing its steps, so there is nothing to abort; follow it with \`polysaga status ${sagaId}\``;
    case 'COMMITTED':
      return options.running
        ? `saga ${sagaId} is COMMITTED and its undo is starting, so there is nothing to abort; follow it with \`polysaga status ${sagaId}\``
        : `saga ${sagaId} is COMMITTED: abort stops a running saga; run \`polysaga compensate ${sagaId}\` to undo a committed one`;
    case 'ROLLED_BACK':
    case 'RESOLVED':
      return `saga ${sagaId} is ${state}: it has ended, so there is nothing to abort`;
  }
}

/**
 * Why `retry` or `resolve` is refused in `state`, or null when it is accepted (FAILED only).
 */
export function operatorRefusal(
  sagaId: string,
  command: 'retry' | 'resolve',
  state: SagaState,
  options: { running: boolean },
): string | null {
  const only = `${command} applies only to a FAILED saga`;
  switch (state) {
    case 'FAILED':
      return null;
    case 'COMPENSATING':
      return `saga ${sagaId} is COMPENSATING, not FAILED: it is undoing its steps (an unwind or a retry round is running); ${only}: wait until it settles (\`polysaga status ${sagaId}\`)`;
    case 'PENDING':
    case 'EXECUTING':
      return `saga ${sagaId} is ${state}, not FAILED: it is running; ${only} (to stop it: \`polysaga abort ${sagaId}\`)`;
    case 'COMMITTED':
      return options.running
        ? `saga ${sagaId} is COMMITTED and its undo is starting, not FAILED; ${only}`
        : `saga ${sagaId} is COMMITTED, not FAILED; ${only} (to undo it: \`polysaga compensate ${sagaId}\`)`;
    case 'ROLLED_BACK':
    case 'RESOLVED':
      return `saga ${sagaId} is ${state}: it has ended; ${only}`;
  }
}

/** Which part of a FAILED saga failed, from its recorded failures (the newest one decides). */
export function failedPhase(failures: readonly { phase: 'step' | 'compensation' }[]): FailedPhase {
  return failures.at(-1)?.phase === 'step' ? 'step' : 'compensation';
}
