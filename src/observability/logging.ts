/**
 * Structured worker logs: one JSON object per line (or a readable line on a terminal) for every
 * log entry of the worker process, the Temporal SDK's own activity and workflow lines included.
 *
 * Every line has `timestamp`, `level`, `message`, `sagaId`, `traceId` and `stepId` (null when
 * the line belongs to no saga or step), then every meta field of the entry. The SDK's lines
 * name the workflow (`workflowId`): a saga's workflow id is its saga id, so `sagaId` is filled
 * from it; `stepId` and `traceId` come from polysaga's log interceptors (activity and workflow
 * side, see `logInterceptors` and src/workflows/interceptors.ts).
 */
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { lockWorkflowId } from '../saga/identity.js';

import type { LogFormat } from './log-format.js';

export { resolveLogFormat, type LogFormat } from './log-format.js';

/** The workflow id prefix of identity lock workflows: not sagas. */
const LOCK_PREFIX = lockWorkflowId('');

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The structured record of one SDK log entry (keys in a fixed order, meta kept). */
export function logRecord(entry: LogEntry): Record<string, unknown> {
  const meta = entry.meta ?? {};
  const workflowId = str(meta.workflowId);
  const sagaId = str(meta.sagaId) ?? (workflowId && !workflowId.startsWith(LOCK_PREFIX) ? workflowId : null);
  const millis = Number(entry.timestampNanos / 1_000_000n);
  const { sagaId: _s, traceId, stepId, ...rest } = meta;
  return {
    timestamp: new Date(millis).toISOString(),
    level: entry.level,
    message: entry.message,
    sagaId,
    traceId: str(traceId),
    stepId: str(stepId),
    ...rest,
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  return value;
}

const PRETTY_SKIP = new Set(['timestamp', 'level', 'message', 'sagaId', 'traceId', 'stepId']);

/** One line (with its newline) in the given format. */
export function formatLogLine(entry: LogEntry, format: LogFormat): string {
  const rec = logRecord(entry);
  if (format === 'json') return `${JSON.stringify(rec, replacer)}\n`;
  const where = [rec.sagaId, rec.stepId].filter((x): x is string => typeof x === 'string').join(' ');
  const rest = Object.entries(rec)
    .filter(([k, v]) => !PRETTY_SKIP.has(k) && v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, replacer)}`)
    .join(' ');
  return `${String(rec.timestamp)} ${entry.level.padEnd(5)} ${where ? `[${where}] ` : ''}${entry.message}${rest ? `  ${rest}` : ''}\n`;
}

export interface StructuredLoggerOptions {
  format: LogFormat;
  /** Where lines go (default: stderr, so that stdout stays free for `--json` output). */
  write?: (line: string) => void;
  /** Applied to each finished line before it is written (e.g. the secret masker). */
  mask?: (line: string) => string;
  /** Drop the lines of workflow code (commands that print their own progress). */
  quietWorkflows?: boolean;
}

/**
 * A Temporal SDK logger writing structured lines; pass it to `Runtime.install({ logger })`
 * before the first worker is created.
 */
export function createStructuredLogger(level: LogLevel, options: StructuredLoggerOptions): DefaultLogger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  return new DefaultLogger(level, (entry) => {
    if (options.quietWorkflows && entry.meta?.sdkComponent === 'workflow') return;
    let line: string;
    try {
      line = formatLogLine(entry, options.format);
    } catch (err) {
      // A meta value JSON cannot hold (a cycle): keep the line, never throw into the SDK.
      const flat = Object.fromEntries(
        Object.entries(entry.meta ?? {}).filter(([, v]) => v === null || typeof v !== 'object'),
      );
      line = formatLogLine(
        { ...entry, meta: { ...flat, metaError: (err as Error).message } },
        options.format,
      );
    }
    write(options.mask ? options.mask(line) : line);
  });
}
