/** The consistency checker (`polysaga verify`): see docs/verify.md. */
export {
  verifyDefinition,
  type VerifyOptions,
  type VerifyReport,
  type VerifyRow,
  type Residue,
} from './verify.js';
export { instantiateRun, rewriteTokens, runTag, RUN_PLACEHOLDER, type InstantiatedRun } from './rewrite.js';
export {
  builtinSnapshots,
  deriveTargets,
  snapshotsOf,
  type BackendSnapshots,
  type Target,
  type TargetOptions,
  type TargetPlan,
  type TargetSpec,
} from './targets.js';
export {
  openSnapshotReaders,
  readTarget,
  takeSnapshot,
  type Snapshot,
  type SnapshotReaders,
} from './snapshot.js';
export {
  missingExampleServices,
  startExampleServices,
  EXAMPLE_SERVICES,
  type StartedServices,
} from './services.js';
