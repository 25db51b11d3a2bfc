/** The consistency checker (`polysaga verify`): see docs/verify.md. */
export {
  verifyDefinition,
  type VerifyOptions,
  type VerifyReport,
  type VerifyRow,
  type Residue,
} from './verify.js';
export { instantiateRun, rewriteTokens, runTag, RUN_PLACEHOLDER, type InstantiatedRun } from './rewrite.js';
export { deriveTargets, type Target, type TargetPlan, type TargetSpec } from './targets.js';
export { readTarget, takeSnapshot, type Snapshot, type SnapshotDeps } from './snapshot.js';
export {
  missingExampleServices,
  startExampleServices,
  EXAMPLE_SERVICES,
  type StartedServices,
} from './services.js';
