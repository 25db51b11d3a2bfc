/** Shared plumbing of the CLI commands: configuration, Temporal client, PostgreSQL pool, output. */
import { readFileSync } from 'node:fs';
import { makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type pg from 'pg';
import { createAuditPool } from '../audit/index.js';
import { connectTemporalClient } from '../client/connect.js';
import { SagaClient } from '../client/index.js';
import { loadConfig, storeGuard, type Config } from '../config/index.js';
import { CliError } from './errors.js';
import { createStructuredLogger, resolveLogFormat, type LogFormat } from '../observability/logging.js';

let cached: Config | undefined;
/** The validated configuration (loaded once per process). */
export function config(): Config {
  return (cached ??= loadConfig());
}

/** Runs `fn` with a connected {@link SagaClient}; closes the connection afterwards. */
export async function withSagaClient<T>(fn: (client: SagaClient, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = config();
  let connected: Awaited<ReturnType<typeof connectTemporalClient>>;
  try {
    connected = await connectTemporalClient(cfg);
  } catch (err) {
    throw new CliError((err as Error).message, 5, { cause: err });
  }
  const { client } = connected;
  try {
    return await fn(
      new SagaClient({
        client,
        taskQueue: cfg.temporal.taskQueue,
        limits: cfg.limits,
        guard: storeGuard(cfg),
      }),
      cfg,
    );
  } finally {
    await connected.close();
  }
}

/** Runs `fn` with a PostgreSQL pool for the audit table; ends the pool afterwards. */
export async function withPool<T>(fn: (pool: pg.Pool, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = config();
  const pool = createAuditPool(cfg.postgres);
  try {
    return await fn(pool, cfg);
  } finally {
    await pool.end();
  }
}

/** Reads and parses a JSON file, with a one-line error naming the file. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      2,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, 2);
  }
}

/** Prints machine-readable output. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as an aligned text table. */
export function printTable(headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) {
    process.stdout.write(
      `${r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i] ?? 0))).join('  ')}\n`,
    );
  }
}

/** `POLYSAGA_LOG_FORMAT`, else pretty on a terminal and JSON otherwise. */
export function workerLogFormat(): LogFormat {
  let configured: LogFormat | undefined;
  try {
    configured = config().observability.logFormat;
  } catch {
    // An invalid configuration is reported by the command itself.
  }
  return resolveLogFormat(configured, process.stderr.isTTY === true);
}

let runtimeInstalled = false;
/**
 * Sets up logging of the in-process Temporal worker runtime (bundler output, worker state,
 * workflow logs), once per process, before the first worker is created. Everything goes to
 * stderr: the native core would otherwise print to stdout and break `--json`. With
 * `quietWorkflows`, saga logs are dropped (the command prints its own progress) and only
 * worker-level messages pass. Lines are structured (docs/observability.md): JSON, or a readable
 * line on a terminal (`POLYSAGA_LOG_FORMAT`). With `sdkMetricsPort`, the SDK's runtime metrics
 * are served on 127.0.0.1 at that port (the worker's `/metrics` appends them).
 */
export function installWorkerLogging(
  level: LogLevel,
  options: { quietWorkflows?: boolean; sdkMetricsPort?: number } = {},
): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: createStructuredLogger(level, {
        format: workerLogFormat(),
        ...(options.quietWorkflows ? { quietWorkflows: true } : {}),
      }),
      telemetryOptions: {
        logging: { forward: {}, filter: makeTelemetryFilterString({ core: level }) },
        ...(options.sdkMetricsPort
          ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${options.sdkMetricsPort}` } } }
          : {}),
      },
    });
  } catch {
    // A runtime exists already (e.g. installed by an embedding application): keep its logger.
  }
}
