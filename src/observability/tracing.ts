/**
 * OpenTelemetry traces of sagas, through `@temporalio/interceptors-opentelemetry`.
 *
 * Spans: `StartWorkflow:sagaWorkflow` (client) → `RunWorkflow:sagaWorkflow` (the saga) →
 * `StartActivity:runStep` / `StartActivity:runCompensation` (workflow) →
 * `RunActivity:runStep` / `RunActivity:runCompensation` (worker). polysaga adds
 * `polysaga.saga_id`, `polysaga.saga_name`, `polysaga.trace_id` and, on activity spans,
 * `polysaga.step_id`, `polysaga.backend`, `polysaga.operation` (the compensation's name for
 * compensations) and `polysaga.kind` (step | compensation).
 *
 * Export: OTLP over HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set,
 * configured by the standard OTEL_* variables (headers, timeout); service name from
 * `OTEL_SERVICE_NAME` (default `polysaga-worker`). Off when neither endpoint is set.
 */
import { createRequire } from 'node:module';
import { context, propagation, trace, type SpanContext } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks } from '@temporalio/worker';
import type { Sinks } from '@temporalio/workflow';
import { AsyncLocalStorageContextManager } from './trace-context.js';

/** Path of the SDK's workflow-side tracing interceptors (bundled with the workflows). */
export const OTEL_WORKFLOW_INTERCEPTORS_PATH = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

/** A registered tracer provider; the worker feeds its processor the workflow spans too. */
export interface Tracing {
  provider: BasicTracerProvider;
  processor: SpanProcessor;
  resource: Resource;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

export interface SetupTracingOptions {
  /** Export to this exporter (e.g. an InMemorySpanExporter in tests), span by span. */
  exporter?: SpanExporter;
  /** Default: OTEL_SERVICE_NAME, else `polysaga-worker`. */
  serviceName?: string;
  env?: NodeJS.ProcessEnv;
}

/** Whether the environment asks for OTLP export. */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Registers a global tracer provider, the W3C trace-context propagator and a context manager.
 * Returns undefined (tracing off) when no exporter is given and no OTLP endpoint is configured.
 */
export function setupTracing(options: SetupTracingOptions = {}): Tracing | undefined {
  const env = options.env ?? process.env;
  let processor: SpanProcessor;
  if (options.exporter) processor = new SimpleSpanProcessor(options.exporter);
  else if (tracingConfigured(env)) processor = new BatchSpanProcessor(new OTLPTraceExporter());
  else return undefined;
  const resource = resourceFromAttributes({
    'service.name': options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'polysaga-worker',
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    provider,
    processor,
    resource,
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Workflow spans are built in the workflow sandbox in the shape of OpenTelemetry SDK 1.x
 * (`parentSpanId`, `instrumentationLibrary`); SDK 2.x exporters read `parentSpanContext` and
 * `instrumentationScope`. Fills those in so the spans keep their parent when exported.
 */
function upgradeSpan(span: ReadableSpan): ReadableSpan {
  const legacy = span as ReadableSpan & {
    parentSpanId?: string;
    instrumentationLibrary?: ReadableSpan['instrumentationScope'];
  };
  const own = span.spanContext();
  const parentSpanContext: SpanContext | undefined =
    span.parentSpanContext ??
    (legacy.parentSpanId
      ? { traceId: own.traceId, spanId: legacy.parentSpanId, traceFlags: own.traceFlags }
      : undefined);
  const upgraded: ReadableSpan = {
    ...span,
    spanContext: () => own,
    ...(parentSpanContext ? { parentSpanContext } : {}),
    instrumentationScope: span.instrumentationScope ?? legacy.instrumentationLibrary ?? { name: 'temporal' },
  };
  return upgraded;
}

/** The worker's `sinks` for workflow spans (the `exporter` sink the workflow interceptors call). */
export function workflowSpanSinks(tracing: Tracing): InjectedSinks<Sinks> {
  const processor = tracing.processor;
  const upgrading = {
    onStart: () => undefined,
    onEnd: (span: ReadableSpan) => processor.onEnd(upgradeSpan(span)),
    forceFlush: () => processor.forceFlush(),
    shutdown: () => Promise.resolve(),
  };
  return {
    exporter: makeWorkflowExporter(
      upgrading as unknown as Parameters<typeof makeWorkflowExporter>[0],
      tracing.resource,
    ),
  };
}
