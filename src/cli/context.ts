/** Shared plumbing of the CLI commands: configuration, Temporal client, PostgreSQL pool, output. */
import { readFileSync } from 'node:fs';
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type pg from 'pg';
import { createAuditPool } from '../audit/index.js';
import { connectTemporalClient } from '../client/connect.js';
import { SagaClient } from '../client/index.js';
import { loadConfig, maskableSecrets, storeGuard, type Config } from '../config/index.js';
import { SecretMasker } from '../audit/redact.js';
import { CliError } from './errors.js';
import { InvalidDefinitionError } from '../saga/errors.js';
import { unsafeIntegerLiterals } from '../saga/input-hygiene.js';
import { issueAtPath } from '../saga/validate.js';

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
        secrets: new SecretMasker(maskableSecrets(cfg).values),
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

let runtimeInstalled = false;
/**
 * Sets up logging of the in-process Temporal worker runtime (bundler output, worker state,
 * workflow logs), once per process, before the first worker is created. Everything goes to
 * stderr: the native core would otherwise print to stdout and break `--json`. With
 * `quietWorkflows`, saga logs are dropped (the command prints its own progress) and only
 * worker-level messages pass. Configured secret values are printed as `***`.
 */
export function installWorkerLogging(level: LogLevel, options: { quietWorkflows?: boolean } = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  let secrets = SecretMasker.none;
  try {
    secrets = new SecretMasker(maskableSecrets(config()).values);
  } catch {
    // An invalid configuration is reported by the command itself.
  }
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => {
        if (options.quietWorkflows && entry.meta?.sdkComponent === 'workflow') return;
        process.stderr.write(`worker: ${entry.level} ${secrets.text(entry.message)}\n`);
      }),
      telemetryOptions: {
        logging: { forward: {}, filter: makeTelemetryFilterString({ core: level }) },
      },
    });
  } catch {
    // A runtime exists already (e.g. installed by an embedding application): keep its logger.
  }
}
