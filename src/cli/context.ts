/** Shared plumbing of the CLI commands: configuration, Temporal client, PostgreSQL pool, output. */
/**
 * The heavy modules (Temporal client and worker, pg, the configuration's zod schema) are imported
 * inside the functions that need them, so `polysaga --help` loads none of them (docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import type { LogLevel } from '@temporalio/worker';
import type pg from 'pg';
import type { SagaClient } from '../client/index.js';
import type { Config } from '../config/index.js';
import { SecretMasker } from '../audit/redact.js';
import { CliError } from './errors.js';
import { InvalidDefinitionError } from '../saga/errors.js';
import { unsafeIntegerLiterals } from '../saga/input-hygiene.js';
import { issueAtPath } from '../saga/validate.js';
import { resolveLogFormat, type LogFormat } from '../observability/log-format.js';

let cached: Config | undefined;
let configModule: typeof import('../config/index.js') | undefined;
/** Loads the configuration module; call once in an action before {@link config}. */
export async function loadConfigModule(): Promise<typeof import('../config/index.js')> {
  return (configModule ??= await import('../config/index.js'));
}
/**
 * The validated configuration (loaded once per process). The configuration module is loaded by
 * {@link loadConfigModule}, which main.ts awaits before running any action.
 */
export function config(): Config {
  if (!configModule) throw new Error('internal: config() before loadConfigModule()');
  return (cached ??= configModule.loadConfig());
}

/** `--plugin <path>` (repeatable) of the commands that load plugins. */
export const PLUGIN_OPTION_HELP =
  'load a plugin module: its backends and compensations join the catalog (repeatable; also POLYSAGA_PLUGINS, comma-separated)';

/** Collects repeated `--plugin` values. */
export const collectPlugin = (value: string, prev: string[] = []): string[] => [...prev, value];

/**
 * Loads the plugins of `POLYSAGA_PLUGINS` (configuration) and then of `--plugin`, each path
 * once. A plugin that cannot be loaded is a `PluginError` naming its path (exit 2).
 */
export async function loadCliPlugins(
  flags: readonly string[] | undefined,
): Promise<import('../plugins/load.js').LoadedPlugin[]> {
  const paths = [...config().plugins, ...(flags ?? [])];
  if (paths.length === 0) return [];
  const { loadPlugins } = await import('../plugins/load.js');
  return loadPlugins(paths);
}

/**
 * Runs `fn` with a connected {@link SagaClient}; closes the connection afterwards. With
 * `plugins`, the client validates against the catalog those plugins extend.
 */
export async function withSagaClient<T>(
  fn: (client: SagaClient, cfg: Config) => Promise<T>,
  options: { plugins?: readonly import('../plugins/load.js').LoadedPlugin[] } = {},
): Promise<T> {
  const cfg = config();
  const [{ connectTemporalClient }, { SagaClient }, { storeGuard, maskableSecrets }] = await Promise.all([
    import('../client/connect.js'),
    import('../client/index.js'),
    loadConfigModule(),
  ]);
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
        scope: cfg.scope,
        limits: cfg.limits,
        guard: storeGuard(cfg),
        secrets: new SecretMasker(maskableSecrets(cfg).values),
        ...(options.plugins ? { plugins: options.plugins } : {}),
      }),
      cfg,
    );
  } catch (err) {
    // A server that went away after the connect (gRPC UNAVAILABLE): exit 5, naming the address.
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if ((err as Error).name === 'ServiceError' && code === 14) {
      throw new CliError(`cannot reach Temporal at ${cfg.temporal.address}: ${(err as Error).message}`, 5, {
        cause: err,
      });
    }
    throw err;
  } finally {
    await connected.close();
  }
}

/** Runs `fn` with a PostgreSQL pool for the audit table; ends the pool afterwards. */
export async function withPool<T>(fn: (pool: pg.Pool, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = config();
  const { createAuditPool } = await import('../audit/index.js');
  const pool = createAuditPool(cfg.postgres);
  try {
    return await fn(pool, cfg);
  } finally {
    await pool.end();
  }
}

/**
 * Reads and parses a JSON file (a saga definition), with a one-line error naming the file.
 * Integer literals that JSON.parse would round (beyond ±(2^53 − 1)) are refused with the
 * field and the digits as written (exit 2): such values must be written as strings.
 */
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
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: ${(err as Error).message}`, 2);
  }
  // Only a run of 16 or more digits can be beyond 2^53 - 1: skip the scan otherwise.
  const unsafe = /\d{16}/.test(text) ? unsafeIntegerLiterals(text) : [];
  if (unsafe.length > 0)
    throw new InvalidDefinitionError(
      unsafe.map((u) =>
        issueAtPath(
          value,
          u.path,
          `the integer ${u.literal} is beyond ±${Number.MAX_SAFE_INTEGER} (2^53 − 1) and would be rounded to ${String(Number(u.literal))}; write it as a string: "${u.literal}"`,
        ),
      ),
    );
  return value;
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
 * are served on 127.0.0.1 at that port (the worker's `/metrics` appends them). Configured secret
 * values are printed as `***`.
 */
export async function installWorkerLogging(
  level: LogLevel,
  options: { quietWorkflows?: boolean; sdkMetricsPort?: number } = {},
): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  let secrets = SecretMasker.none;
  try {
    secrets = new SecretMasker((await loadConfigModule()).maskableSecrets(config()).values);
  } catch {
    // An invalid configuration is reported by the command itself.
  }
  const { makeTelemetryFilterString, Runtime } = await import('@temporalio/worker');
  const { createStructuredLogger } = await import('../observability/logging.js');
  const logger = createStructuredLogger(level, {
    format: workerLogFormat(),
    ...(options.quietWorkflows ? { quietWorkflows: true } : {}),
    mask: (line) => secrets.text(line),
  });
  // Node's own warnings (e.g. the AWS SDK's Node version notice) go through the same logger
  // instead of Node's default multi-line stderr output, so every line stays one log record.
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    logger.warn(`${w.name}: ${w.message.replace(/\s*\n\s*/g, ' ')}`, { sdkComponent: 'node' });
  });
  try {
    Runtime.install({
      logger,
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
