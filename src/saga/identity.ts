/**
 * Identity keys: at most one running saga per key. The lock is a tiny Temporal
 * workflow whose id is derived from the key; Temporal allows one running workflow per id,
 * which makes acquisition race-free. See docs/states.md, "Identity lock".
 */

/** Workflow id of the lock-holder workflow of `identityKey`. */
export function lockWorkflowId(identityKey: string): string {
  return `polysaga-identity:${identityKey}`;
}

/** Input of the lock-holder workflow. */
export interface IdentityLockInput {
  identityKey: string;
  /** The saga holding the lock. */
  sagaId: string;
}

/** Signal argument that releases the lock; ignored unless `sagaId` is the holder. */
export interface ReleaseLockInput {
  sagaId: string;
  reason: string;
}
