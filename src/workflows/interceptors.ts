/**
 * Workflow-side interceptors of the polysaga worker (bundled with the workflows through
 * `interceptors.workflowModules`): every log line of a saga workflow, the SDK's own included,
 * carries `sagaId` and `traceId`; with tracing, the `RunWorkflow` span of a saga carries
 * `polysaga.saga_id`, `polysaga.saga_name` and `polysaga.trace_id`.
 *
 * Deterministic: reads only workflowInfo() and adds no commands.
 */
import { trace } from '@opentelemetry/api';
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { lockWorkflowId } from '../saga/identity.js';
import { SagaNameKey, TraceIdKey } from '../saga/search-attributes.js';

const LOCK_WORKFLOW_PREFIX = lockWorkflowId('');

function sagaFields(): { sagaId?: string; traceId?: string; sagaName?: string } {
  const info = workflowInfo();
  if (info.workflowId.startsWith(LOCK_WORKFLOW_PREFIX)) return {};
  const traceId = info.typedSearchAttributes.get(TraceIdKey);
  const sagaName = info.typedSearchAttributes.get(SagaNameKey);
  return {
    sagaId: info.workflowId,
    ...(traceId ? { traceId } : {}),
    ...(sagaName ? { sagaName } : {}),
  };
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        // Runs inside the SDK's tracing interceptor when it is registered: its span is active.
        const span = trace.getActiveSpan();
        if (span) {
          const f = sagaFields();
          if (f.sagaId) span.setAttribute('polysaga.saga_id', f.sagaId);
          if (f.sagaName) span.setAttribute('polysaga.saga_name', f.sagaName);
          if (f.traceId) span.setAttribute('polysaga.trace_id', f.traceId);
        }
        return next(input);
      },
    },
  ],
  outbound: [
    {
      getLogAttributes(input, next) {
        const { sagaId, traceId } = sagaFields();
        return next({ ...input, ...(sagaId ? { sagaId } : {}), ...(traceId ? { traceId } : {}) });
      },
    },
  ],
});
