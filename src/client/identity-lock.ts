/**
 * The identity lock as the client takes and releases it: one lock-holder workflow
 * (`polysaga-identity:<key>`, src/workflows/identity-lock.ts) per identity key, so that two sagas
 * with the same key never run at once.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { lockWorkflowId, type IdentityLockInput } from '../saga/identity.js';
import type { identityLockWorkflow } from '../workflows/identity-lock.js';
import { IdentityLockedError } from './errors.js';

/** Workflow type of the identity lock holder. */
export const IDENTITY_LOCK_WORKFLOW_TYPE = 'identityLockWorkflow';

export class IdentityLocks {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** A lock whose holder saga does not exist after this long is orphaned. */
    private readonly orphanedLockAfterMs: number,
  ) {}

  /**
   * Takes the identity lock of `identityKey` for `sagaId`: starts the lock-holder workflow
   * `polysaga-identity:<key>` with conflict policy FAIL (the server allows one running
   * workflow per id, so concurrent starts race safely). A lock whose holder saga has closed
   * (or never started) is stale: it is terminated (by run id) and acquisition retried.
   * @returns the lock workflow's run id.
   * @throws IdentityLockedError naming the holder.
   */
  async acquire(identityKey: string, sagaId: string): Promise<string> {
    const lockId = lockWorkflowId(identityKey);
    for (let attempt = 0; ; attempt++) {
      try {
        const h = await this.client.workflow.start<typeof identityLockWorkflow>(IDENTITY_LOCK_WORKFLOW_TYPE, {
          workflowId: lockId,
          taskQueue: this.taskQueue,
          args: [{ identityKey, sagaId } satisfies IdentityLockInput],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          memo: { sagaId },
          // Lock workflows are not sagas: the Web UI view `SagaName IS NOT NULL` leaves them out
          // (docs/web-ui.md); opened anyway, they say what they hold.
          staticSummary: `identity lock ${identityKey} held by saga ${sagaId}`,
        });
        return h.firstExecutionRunId;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        let lock: WorkflowExecutionDescription;
        try {
          lock = await this.client.workflow.getHandle(lockId).describe();
        } catch (e) {
          if (e instanceof WorkflowNotFoundError && attempt < 3) continue;
          throw e;
        }
        const holder = typeof lock.memo?.sagaId === 'string' ? lock.memo.sagaId : '(unknown)';
        if (lock.status.name !== 'RUNNING') {
          if (attempt < 3) continue; // released meanwhile
          throw new IdentityLockedError(identityKey, holder, { cause: err });
        }
        if (attempt < 3 && holder !== sagaId && (await this.isStaleHolder(holder, lock.startTime))) {
          await this.client.workflow
            .getHandle(lockId, lock.runId)
            .terminate(`stale identity lock: holder saga ${holder} is not running`)
            .catch(() => undefined);
          continue;
        }
        throw new IdentityLockedError(identityKey, holder, { cause: err });
      }
    }
  }

  /**
   * Whether the lock (started at `lockStarted`) is stale: its holder saga ran and closed after
   * the lock was taken (it released or was terminated), or the holder never started within
   * `orphanedLockAfterMs` (the starting client died between lock and saga).
   */
  private async isStaleHolder(holderSagaId: string, lockStarted: Date): Promise<boolean> {
    const orphaned = Date.now() - lockStarted.getTime() > this.orphanedLockAfterMs;
    try {
      const d = await this.client.workflow.getHandle(holderSagaId).describe();
      if (d.status.name === 'RUNNING') return false; // FAILED sagas keep running and keep the lock
      // A run that closed before the lock was taken is an older run of the same id (undo pending).
      return d.closeTime !== undefined && d.closeTime.getTime() >= lockStarted.getTime() ? true : orphaned;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return orphaned;
      throw e;
    }
  }

  /** Ends the lock taken (run `lockRunId`) for a saga that did not start. */
  async abandon(identityKey: string, lockRunId: string): Promise<void> {
    await this.client.workflow
      .getHandle(lockWorkflowId(identityKey), lockRunId)
      .terminate('saga did not start')
      .catch(() => undefined);
  }

  /** Terminates the lock-holder workflow of `identityKey` if `sagaId` holds it. */
  async release(identityKey: string, sagaId: string, reason: string): Promise<boolean> {
    let lock: WorkflowExecutionDescription;
    try {
      lock = await this.client.workflow.getHandle(lockWorkflowId(identityKey)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
    if (lock.status.name !== 'RUNNING' || lock.memo?.sagaId !== sagaId) return false;
    await this.client.workflow
      .getHandle(lockWorkflowId(identityKey), lock.runId)
      .terminate(`released: saga ${sagaId} terminated (${reason})`);
    return true;
  }
}
