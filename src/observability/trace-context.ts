/**
 * The caller's trace, as the client sees it: only `@opentelemetry/api` (no SDK), so importing
 * it costs the client nothing when no tracer provider is registered.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ROOT_CONTEXT,
  isSpanContextValid,
  trace,
  type Context,
  type ContextManager,
} from '@opentelemetry/api';

/**
 * The trace id (32 hex digits) of the span active in the caller, or undefined. SagaClient uses it
 * as a new saga's `traceId` when the definition sets none, so the saga's `TraceId` search
 * attribute, audit rows and log lines carry the id of the trace its spans belong to.
 */
export function activeTraceId(): string | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx.traceId : undefined;
}

/**
 * An OpenTelemetry context manager over AsyncLocalStorage (the active span follows awaits), as
 * `@opentelemetry/context-async-hooks` provides; kept here to avoid one more dependency.
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg === undefined ? fn : (fn.bind(thisArg) as F);
    return this.storage.run(context, cb, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}
