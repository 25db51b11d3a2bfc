/**
 * identityLockWorkflow: holds the identity lock of one key while its saga runs.
 *
 * Steps: wait for `releaseLockSignal` from the holder saga, then complete. Its workflow id is
 * `polysaga-identity:<key>`; the client starts it with conflict policy FAIL, so at most one
 * runs per key (race-free acquisition, enforced by the Temporal server).
 */
import { condition, log, setHandler } from '@temporalio/workflow';
import type { IdentityLockInput } from '../saga/identity.js';
import { lockHolderQuery, releaseLockSignal } from './definitions.js';

/** Holds the lock of `input.identityKey` for `input.sagaId` until the saga releases it. */
export async function identityLockWorkflow(
  input: IdentityLockInput,
): Promise<{ releasedBy: string; reason: string }> {
  let released: { releasedBy: string; reason: string } | undefined;
  setHandler(lockHolderQuery, () => input.sagaId);
  setHandler(releaseLockSignal, ({ sagaId, reason }) => {
    if (sagaId === input.sagaId) released = { releasedBy: sagaId, reason };
    else
      log.warn(`[${input.sagaId}] ignored release of identity ${input.identityKey} by ${sagaId}`, {
        sagaId: input.sagaId,
      });
  });
  log.info(`[${input.sagaId}] identity lock ${input.identityKey} acquired`, { sagaId: input.sagaId });
  await condition(() => released !== undefined);
  log.info(`[${input.sagaId}] identity lock ${input.identityKey} released (${released!.reason})`, {
    sagaId: input.sagaId,
  });
  return released!;
}
