/**
 * Worker-side interceptors: the saga and step of each activity on its log lines and span.
 *
 * The activity's input names its saga, step, backend and operation (runStep, runCompensation,
 * executeStep, compensateStep, recordEvent(s)); the outbound interceptor adds `sagaId`,
 * `stepId` and `traceId` to every log line of the activity (the SDK's own `Activity failed`
 * included), and, with tracing, the inbound one sets them as attributes of the `RunActivity`
 * span.
 */
import { trace } from '@opentelemetry/api';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptors, ActivityInterceptorsFactory } from '@temporalio/worker';

/** What an activity's first argument says about its saga and step. */
export interface ActivitySagaFields {
  sagaId?: string;
  sagaName?: string;
  traceId?: string;
  stepId?: string;
  backend?: string;
  operation?: string;
  kind?: 'step' | 'compensation';
}

const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The saga fields of an activity call (`activityType` and its arguments). */
export function activitySagaFields(activityType: string, args: unknown[]): ActivitySagaFields {
  let a = args[0];
  if (Array.isArray(a)) a = a[0]; // recordEvents: the events of one saga
  if (typeof a !== 'object' || a === null) return {};
  const o = a as Record<string, unknown>;
  const step =
    typeof o.step === 'object' && o.step !== null ? (o.step as Record<string, unknown>) : undefined;
  const audit =
    typeof o.audit === 'object' && o.audit !== null ? (o.audit as Record<string, unknown>) : undefined;
  const start = audit && typeof audit.start === 'object' && audit.start !== null ? audit.start : undefined;
  const startPayload = (start as { payload?: Record<string, unknown> } | undefined)?.payload;
  const compensation = activityType === 'runCompensation' || activityType === 'compensateStep';
  const fields: ActivitySagaFields = {
    sagaId: s(o.sagaId),
    sagaName: s(o.sagaName),
    traceId: s(o.traceId),
    stepId: s(step?.id) ?? s(o.stepId),
    backend: s(step?.backend) ?? s(o.backend),
    operation: compensation
      ? (s(startPayload?.compensation) ?? s(o.compensation) ?? 'inline')
      : (s(step?.operation) ?? s(o.operation)),
  };
  if (activityType === 'runStep' || activityType === 'executeStep') fields.kind = 'step';
  else if (compensation) fields.kind = 'compensation';
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

const SPAN_ATTRIBUTES: Record<keyof ActivitySagaFields, string> = {
  sagaId: 'polysaga.saga_id',
  sagaName: 'polysaga.saga_name',
  traceId: 'polysaga.trace_id',
  stepId: 'polysaga.step_id',
  backend: 'polysaga.backend',
  operation: 'polysaga.operation',
  kind: 'polysaga.kind',
};

/**
 * The activity interceptors of a polysaga worker: saga fields on log lines, and with
 * `tracing`, the SDK's OpenTelemetry interceptors (span per activity, continuing the
 * workflow's context) with the saga fields as span attributes.
 */
export function sagaActivityInterceptors(options: { tracing: boolean }): ActivityInterceptorsFactory[] {
  const saga: ActivityInterceptorsFactory = (ctx: ActivityContext): ActivityInterceptors => {
    let fields: ActivitySagaFields = {};
    return {
      inbound: {
        async execute(input, next) {
          fields = activitySagaFields(ctx.info.activityType, input.args);
          // Inside the SDK's interceptor (registered first): its RunActivity span is active.
          const span = options.tracing ? trace.getActiveSpan() : undefined;
          if (span)
            for (const [k, v] of Object.entries(fields))
              span.setAttribute(SPAN_ATTRIBUTES[k as keyof ActivitySagaFields], v as string);
          return next(input);
        },
      },
      outbound: {
        getLogAttributes(input, next) {
          const { sagaId, stepId, traceId } = fields;
          return next({
            ...input,
            ...(sagaId ? { sagaId } : {}),
            ...(stepId ? { stepId } : {}),
            ...(traceId ? { traceId } : {}),
          });
        },
      },
    };
  };
  if (!options.tracing) return [saga];
  const otel: ActivityInterceptorsFactory = (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  });
  return [otel, saga];
}
