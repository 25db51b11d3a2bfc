/**
 * `npm run bench`: the same 4-write saga (3 PostgreSQL rows + 1 Redis key) measured in one run
 * on the local stack for the writes called directly, a bare Temporal saga in the style of
 * Temporal's saga sample (bench/bare), polysaga, and polysaga's fast mode (n/a when the build
 * does not have it), each figure printed with its target from issue 8 and its ratio to bare
 * Temporal. Not a test: nothing is asserted.
 *
 * Per contender: p50/p95/p99 with one saga in flight, 3-undo rollback p50 with the residue
 * after every rollback, sagas/s in waves at 50 and 500 in flight (errors and timeouts), history
 * events of a committed and a rolled-back saga, worker memory per 1000 parked sagas; and the
 * time of `polysaga --help` and `polysaga status <id>`.
 *
 * Knobs (bench/options.ts): BENCH_QUICK=1 (smoke run), BENCH_SAGAS, BENCH_ROLLBACKS,
 * BENCH_IN_FLIGHT, BENCH_WAVE_SAGAS, BENCH_WAVE_TIMEOUT_S, BENCH_PARK, BENCH_CONTENDERS, BENCH_CLI.
 * Writes bench/reports/latest.json and bench/reports/latest.md. Cleans up what it created: the
 * bench table, the Redis keys, running workflows, and the audit and idempotency rows of its sagas.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { createPgPool } from '../src/backends/postgres/adapter.js';
import { createRedisClient } from '../src/backends/kv/adapter.js';
import { connectTemporalClient } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import {
  bareContender,
  directContender,
  polysagaContender,
  terminateAll,
  type BenchContext,
  type Contender,
} from './contenders.js';
import { readBenchOptions, type BenchOptions } from './options.js';
import { renderMarkdown, type BenchReport, type ContenderResult } from './report.js';
import { historyStats, parkAndMeasure, residueOf, sequential, wave } from './scenarios.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();
const options = readBenchOptions();
const config = loadConfig();
const runId = randomUUID().slice(0, 8);

// Workflow logs (rolled-back sagas log at ERROR) and the core's warnings about activities of
// terminated workflows would drown the report; keep the SDK's own errors.
const sdkErrors = new DefaultLogger('ERROR');
Runtime.install({
  logger: new DefaultLogger('ERROR', (e) => {
    if (e.meta?.sdkComponent !== 'workflow') sdkErrors.log(e.level, e.message, e.meta);
  }),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
});

function progress(msg: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ ms: number; code: number | null }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (err) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ ms: performance.now() - t0, code });
    });
  });
}

/**
 * Wall time of `bin/polysaga --help` and `bin/polysaga status <id>` (the best of `times` runs
 * each; `npm run bench` builds dist/ first, so this is the compiled CLI), and of `status` against
 * a Temporal address where nothing listens (one run).
 */
async function timeCli(sagaId: string, times: number): Promise<ContenderResult['cli']> {
  const bin = fileURLToPath(new URL('../bin/polysaga', import.meta.url));
  const help: number[] = [];
  const status: number[] = [];
  let helpExitCode: number | null = 0;
  let statusExitCode: number | null = 0;
  for (let i = 0; i < times; i++) {
    const h = await run(bin, ['--help']);
    help.push(h.ms);
    if (h.code !== 0) helpExitCode = h.code;
    const s = await run(bin, ['status', sagaId]);
    status.push(s.ms);
    if (s.code !== 0) statusExitCode = s.code;
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const u = await run(bin, ['status', sagaId], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  return {
    runs: times,
    unreachableMs: u.ms,
    unreachableExitCode: u.code,
    helpMs: Math.min(...help),
    statusMs: Math.min(...status),
    helpExitCode,
    statusExitCode,
  };
}

/** Busy share of all CPUs over `ms` (from /proc/stat), or null where there is none. */
async function cpuBusy(ms: number): Promise<number | null> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    await new Promise((r) => setTimeout(r, ms));
    const b = read();
    return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
  } catch {
    return null;
  }
}

/**
 * Waits until the machine is quiet (under 25% busy for a second, at most 60 s) so that one
 * contender's clean-up (1000 terminated workflows, vacuum) does not slow the next one down.
 */
async function settle(): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const busy = await cpuBusy(1000);
    if (busy === null || busy < 0.25 || performance.now() > deadline) {
      progress(`settled (CPU ${busy === null ? 'n/a' : `${Math.round(busy * 100)}% busy`})`);
      return;
    }
  }
}

/**
 * Measures one contender; a scenario that throws is recorded, the others still run. The
 * `timing` pass runs everything but the parked-saga memory figure;
 * the `parking` pass (after every contender's timing pass, so that 1000 parked and then
 * terminated workflows do not slow down the next contender's timings) adds it to `result`.
 */
async function measure(
  ctx: BenchContext,
  c: Contender,
  o: BenchOptions,
  pass: 'timing' | 'parking',
  result: ContenderResult = { key: c.key, label: c.label, unsupported: null, waves: [], failures: [] },
): Promise<ContenderResult> {
  const key = (scenario: string) => (i: number) => `bench-${ctx.runId}-${c.key}-${scenario}-${i}`;
  const phase = async (name: string, fn: () => Promise<void>) => {
    progress(`${c.key}: ${name}`);
    try {
      await fn();
    } catch (err) {
      result.failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  if (pass === 'parking' && !(c.parking && o.park > 0)) return result;
  await c.setup();
  result.unsupported = c.unsupported;
  if (c.unsupported !== null) return result;
  if (pass === 'parking') {
    try {
      await phase(`${o.park} parked`, async () => {
        result.park = await parkAndMeasure(c, o.park, o.parkTimeoutMs, key('park'));
      });
    } finally {
      await c.teardown();
    }
    return result;
  }
  try {
    // Warm-up (first workflow task, bundle caches, connections): not measured.
    await phase('warm-up', async () => {
      await c.run(key('warm')(0), false);
      await c.run(key('warm')(1), true);
    });
    let lastCommitted: string | undefined;
    let lastRolledBack: string | undefined;
    await phase(`${o.sagas} committed, one in flight`, async () => {
      const r = await sequential(c, o.sagas, false, key('seq'));
      result.latency = { summary: r.latency, errors: r.errors };
      lastCommitted = r.keys.at(-1);
    });
    await phase(`${o.rollbacks} rolled back, one in flight`, async () => {
      const residue = { rows: 0, keys: 0, sagas: 0 };
      const r = await sequential(c, o.rollbacks, true, key('rb'), async (k) => {
        const one = await residueOf(ctx, k);
        residue.rows += one.rows;
        residue.keys += one.keys;
        residue.sagas += 1;
      });
      result.rollback = { summary: r.latency, errors: r.errors };
      result.residue = residue;
      lastRolledBack = r.keys.at(-1);
    });
    const id = (k: string | undefined) => (k === undefined ? null : c.workflowId(k));
    const committedId = id(lastCommitted);
    const rolledBackId = id(lastRolledBack);
    if (committedId !== null || rolledBackId !== null) {
      await phase('history', async () => {
        result.history = {
          committed: committedId ? await historyStats(ctx.client, committedId) : null,
          rolledBack: rolledBackId ? await historyStats(ctx.client, rolledBackId) : null,
        };
      });
    }
    for (const level of o.inFlight) {
      await phase(`wave at ${level} in flight`, async () => {
        result.waves.push(
          await wave(c, ctx.client, level, Math.max(level, o.waveSagas), o.waveTimeoutMs, key(`w${level}`)),
        );
      });
    }
    if (c.key === 'polysaga' && o.cli && committedId !== null) {
      await phase('CLI', async () => {
        result.cli = await timeCli(committedId, 3);
      });
    }
  } finally {
    await c.teardown();
  }
  return result;
}

/** Closes every workflow, row and key of this run that could still be around. */
async function cleanUp(ctx: BenchContext): Promise<void> {
  const prefix = `bench-${ctx.runId}-`;
  const query = `ExecutionStatus = "Running" AND WorkflowId STARTS_WITH "${prefix}"`;
  try {
    const running: string[] = [];
    for await (const wf of ctx.client.workflow.list({ query })) running.push(wf.workflowId);
    await terminateAll(ctx.client, running, 'bench: clean-up');
    if (running.length > 0) progress(`terminated ${running.length} leftover workflows`);
  } catch (err) {
    progress(`could not list leftover workflows: ${(err as Error).message}`);
  }
  await ctx.pool.query(`DROP TABLE IF EXISTS ${ctx.table}`);
  let deleted = 0;
  // The keys the sagas wrote, and the idempotency records polysaga's kv backend keeps beside them.
  for (const match of [`bench:${ctx.runId}:*`, `*:idem:${prefix}*`]) {
    for await (const keys of ctx.redis.scanIterator({ MATCH: match, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await ctx.redis.del(keys);
    }
  }
  // The audit trail and idempotency records of the bench's own sagas (LIKE: runId is hex).
  for (const [table, column] of [
    ['uds3_saga_events', 'saga_id'],
    ['polysaga_idempotency', 'key'],
  ] as const) {
    try {
      await ctx.pool.query(`DELETE FROM ${table} WHERE ${column} LIKE $1`, [`${prefix}%`]);
    } catch (err) {
      progress(`could not clean ${table}: ${(err as Error).message}`);
    }
  }
  progress(`cleaned up: table ${ctx.table} dropped, ${deleted} Redis keys deleted`);
}

function commit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const temporal = await connectTemporalClient(config);
const { client } = temporal;
const ctx: BenchContext = {
  runId,
  table: `bench_${runId}`,
  config,
  client,
  pool: createPgPool(config.postgres),
  redis: await createRedisClient(config.redis.url),
};
const host = { cpus: cpus().length, loadAverage: loadavg() };
const results: ContenderResult[] = [];
try {
  await ctx.pool.query(`CREATE TABLE ${ctx.table} (id text PRIMARY KEY, saga text NOT NULL, v int)`);
  await ctx.pool.query(`CREATE INDEX ON ${ctx.table} (saga)`);
  const make: Record<string, () => Contender> = {
    direct: () => directContender(ctx),
    bare: () => bareContender(ctx),
    polysaga: () => polysagaContender(ctx, false),
    fast: () => polysagaContender(ctx, true),
  };
  for (const k of options.contenders) {
    await settle();
    results.push(await measure(ctx, make[k]!(), options, 'timing'));
  }
  for (const [i, k] of options.contenders.entries()) {
    await settle();
    await measure(ctx, make[k]!(), options, 'parking', results[i]);
  }
} finally {
  await cleanUp(ctx).catch((err: unknown) => progress(`clean-up failed: ${(err as Error).message}`));
  await ctx.pool.end();
  await ctx.redis.quit().catch(() => undefined);
  await temporal.close();
}

const report: BenchReport = {
  date: new Date().toISOString(),
  commit: commit(),
  host,
  options,
  seconds: (performance.now() - started) / 1000,
  contenders: results,
};
const markdown = renderMarkdown(report);
const reports = new URL('reports/', import.meta.url);
mkdirSync(reports, { recursive: true });
writeFileSync(new URL('latest.json', reports), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(new URL('latest.md', reports), markdown);
process.stdout.write(`\n${markdown}`);
process.stdout.write('\nwritten: bench/reports/latest.json, bench/reports/latest.md\n');
