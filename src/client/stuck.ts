/**
 * Detecting stuck sagas: a running workflow whose workflow task fails on every attempt (a bug,
 * a non-determinism after a bad deploy, a command the server refuses such as an activity with
 * a zero timeout). Such a workflow answers no query and handles no signal or update, so the
 * client reads what Temporal knows instead: the pending workflow task's attempt count
 * (`describe`) and the newest WorkflowTaskFailed event of its history.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { ProtoFailure } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { StuckInfo } from '../saga/status.js';

// Wire values of temporal.api.enums.v1 (protobuf enum numbers never change). Written out so
// that the client needs no runtime import of @temporalio/proto, which it does not declare.
const WORKFLOW_TASK_COMPLETED = 7;
const WORKFLOW_TASK_TIMED_OUT = 8;
const WORKFLOW_TASK_FAILED = 9;
/** temporal.api.enums.v1.WorkflowTaskFailedCause names by number, without their prefix. */
const FAILED_CAUSES: readonly string[] = [
  'UNSPECIFIED',
  'UNHANDLED_COMMAND',
  'BAD_SCHEDULE_ACTIVITY_ATTRIBUTES',
  'BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES',
  'BAD_START_TIMER_ATTRIBUTES',
  'BAD_CANCEL_TIMER_ATTRIBUTES',
  'BAD_RECORD_MARKER_ATTRIBUTES',
  'BAD_COMPLETE_WORKFLOW_EXECUTION_ATTRIBUTES',
  'BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES',
  'BAD_CANCEL_WORKFLOW_EXECUTION_ATTRIBUTES',
  'BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES',
  'BAD_CONTINUE_AS_NEW_ATTRIBUTES',
  'START_TIMER_DUPLICATE_ID',
  'RESET_STICKY_TASK_QUEUE',
  'WORKFLOW_WORKER_UNHANDLED_FAILURE',
  'BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES',
  'BAD_START_CHILD_EXECUTION_ATTRIBUTES',
  'FORCE_CLOSE_COMMAND',
  'FAILOVER_CLOSE_COMMAND',
  'BAD_SIGNAL_INPUT_SIZE',
  'RESET_WORKFLOW',
  'BAD_BINARY',
  'SCHEDULE_ACTIVITY_DUPLICATE_ID',
  'BAD_SEARCH_ATTRIBUTES',
  'NON_DETERMINISTIC_ERROR',
  'BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES',
  'PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED',
  'PENDING_ACTIVITIES_LIMIT_EXCEEDED',
  'PENDING_SIGNALS_LIMIT_EXCEEDED',
  'PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED',
  'BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE',
  'UNHANDLED_UPDATE',
  'BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES',
  'PENDING_NEXUS_OPERATIONS_LIMIT_EXCEEDED',
  'BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES',
  'FEATURE_DISABLED',
  'GRPC_MESSAGE_TOO_LARGE',
  'PAYLOADS_TOO_LARGE',
];

/** How to get a stuck saga moving again (or out of the way). */
export function stuckHint(sagaId: string): string {
  return (
    `abort cannot reach it: run \`polysaga abort --terminate ${sagaId}\` to terminate its workflow and ` +
    `release its identity key, then \`polysaga recover --saga-id ${sagaId}\` to undo its recorded steps ` +
    `(or fix and redeploy the worker if the failure is a bug or a non-determinism)`
  );
}

function causeName(cause: number | null | undefined): string {
  if (cause === null || cause === undefined) return 'UNSPECIFIED';
  return FAILED_CAUSES[cause] ?? `CAUSE_${cause}`;
}

function toIso(
  ts: { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | null | undefined,
): string | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  // A protobuf Long, a number or a string.
  const seconds = Number(ts.seconds.toString());
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

/**
 * A failure's message; with payload encryption its message reads `Encoded failure` and the
 * text is in the encrypted attributes, which the client's data converter decodes.
 */
async function failureMessage(client: Client, failure: ProtoFailure | null | undefined): Promise<string> {
  if (failure?.encodedAttributes) {
    const err = await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, failure).catch(
      () => undefined,
    );
    if (err?.message) return err.message;
  }
  return failure?.message ?? 'workflow task failed';
}

/**
 * Whether the saga's workflow is stuck on a failing workflow task, and why.
 *
 * Stuck means: still running, the pending workflow task is on attempt 2 or later, and the
 * newest workflow-task outcome in its history is WorkflowTaskFailed (a workflow task that
 * timed out, e.g. because a worker died, is not stuck: the next worker picks it up). Costs no
 * request for a healthy saga beyond the `describe` the caller did; otherwise reads the
 * history backwards until the newest workflow-task outcome.
 */
export async function detectStuck(
  client: Client,
  description: WorkflowExecutionDescription,
): Promise<StuckInfo | null> {
  if (description.status.name !== 'RUNNING') return null;
  const attempts = description.raw.pendingWorkflowTask?.attempt ?? 0;
  if (attempts < 2) return null;
  let nextPageToken: Uint8Array | undefined;
  for (let page = 0; page < 20; page++) {
    const res = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId: description.workflowId, runId: description.runId },
      maximumPageSize: 100,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of res.history?.events ?? []) {
      // Compared as numbers: the enum type lives in @temporalio/proto (see above).
      const type = Number(e.eventType);
      if (type === WORKFLOW_TASK_FAILED) {
        const a = e.workflowTaskFailedEventAttributes;
        return {
          cause: causeName(a?.cause),
          message: await failureMessage(client, a?.failure),
          attempts,
          since: toIso(e.eventTime),
          hint: stuckHint(description.workflowId),
        };
      }
      if (type === WORKFLOW_TASK_COMPLETED || type === WORKFLOW_TASK_TIMED_OUT) return null;
    }
    if (!res.nextPageToken || res.nextPageToken.length === 0) return null;
    nextPageToken = res.nextPageToken;
  }
  return null;
}
