/**
 * Recovery (`polysaga recover`): retries FAILED sagas through Temporal and unwinds sagas whose
 * workflow is gone from the audit trail alone. See docs/recovery.md.
 */
export { backoffDelayMs, sleep, type Backoff } from './backoff.js';
export type { SagaFilter } from '../audit/index.js';
export { runRecoveryDaemon, type RecoveryDaemonOptions } from './daemon.js';
export {
  recover,
  temporalProbe,
  type RecoverOptions,
  type RecoveryReport,
  type SagaRecovery,
  type WorkflowPresence,
  type WorkflowProbe,
} from './recover.js';
export { openRecoveryContext, type RecoveryContext } from './setup.js';
export { analyzeTrail, compensationName, isTerminalStatus, type TrailAnalysis } from './trail.js';
export { unwindFromTrail, type TrailUnwindDeps, type TrailUnwindResult, type UnwindMode } from './unwind.js';
