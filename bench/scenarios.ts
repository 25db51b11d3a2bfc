/**
 * The scenarios of `npm run bench`, each run for one contender: sequential latency, rollback
 * latency with the residue check, throughput waves, history size and parked-saga memory.
 * Nothing here asserts a timing: every outcome is counted and reported.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Client } from '@temporalio/client';
import { redisKeyOf, terminateAll, type BenchContext, type Contender } from './contenders.js';
import { mapLimit, percentile, summarize, type LatencySummary } from './stats.js';

/** Latencies of sagas run one after another, plus the errors. */
export interface SequentialResult {
  latency: LatencySummary;
  errors: string[];
  keys: string[];
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}

/** Runs `count` sagas one at a time (one in flight) and times each. */
export async function sequential(
  c: Contender,
  count: number,
  fail: boolean,
  keyOf: (i: number) => string,
  after?: (key: string) => Promise<void>,
): Promise<SequentialResult> {
  const samples: number[] = [];
  const errors: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = keyOf(i);
    keys.push(key);
    const t0 = performance.now();
    try {
      await c.run(key, fail);
      samples.push(performance.now() - t0);
    } catch (err) {
      errors.push(message(err));
    }
    if (after) await after(key);
  }
  return { latency: summarize(samples), errors, keys };
}

/** Rows and Redis keys left behind by rolled-back sagas (both must be 0). */
export interface Residue {
  rows: number;
  keys: number;
  sagas: number;
}

/** Counts what the saga `key` left in the bench table and Redis. */
export async function residueOf(ctx: BenchContext, key: string): Promise<Residue> {
  const { rows } = await ctx.pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${ctx.table} WHERE saga = $1`,
    [key],
  );
  const keys = await ctx.redis.exists(redisKeyOf(ctx, key));
  return { rows: Number(rows[0]?.n ?? 0), keys: Number(keys), sagas: 1 };
}

/** One throughput wave. */
export interface WaveResult {
  inFlight: number;
  planned: number;
  started: number;
  ok: number;
  errors: number;
  timeouts: number;
  seconds: number;
  sagasPerSecond: number;
  p50: number;
  firstErrors: string[];
}

/**
 * Keeps `inFlight` committed sagas running until `total` have started, for at most
 * `timeoutMs`. Sagas still running at the deadline count as timeouts and are terminated;
 * sagas/s = sagas that ended as expected / wall time (the deadline when some timed out).
 */
export async function wave(
  c: Contender,
  client: Client,
  inFlight: number,
  total: number,
  timeoutMs: number,
  keyOf: (i: number) => string,
): Promise<WaveResult> {
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  let started = 0;
  let ok = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  const latencies: number[] = [];
  const pending = new Set<string>();
  const stragglers: Promise<void>[] = [];
  let lastEnd = t0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      timedOut = true;
      resolve('timeout');
    }, timeoutMs);
  });
  const lane = async () => {
    while (started < total && !timedOut && performance.now() < deadline) {
      const key = keyOf(started++);
      pending.add(key);
      const s0 = performance.now();
      const done = c.run(key, false).then(
        () => {
          if (timedOut) return;
          ok += 1;
          latencies.push(performance.now() - s0);
        },
        (err: unknown) => {
          if (timedOut) return;
          errors += 1;
          if (firstErrors.length < 3) firstErrors.push(message(err));
        },
      );
      const settled = done.finally(() => {
        if (!timedOut) {
          pending.delete(key);
          lastEnd = performance.now();
        }
      });
      stragglers.push(settled);
      if ((await Promise.race([settled.then(() => 'done' as const), timeout])) === 'timeout') return;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  clearTimeout(timer);
  const unfinished = [...pending];
  const seconds = ((timedOut ? deadline : lastEnd) - t0) / 1000;
  if (unfinished.length > 0) {
    const ids = unfinished.map((k) => c.workflowId(k)).filter((id): id is string => id !== null);
    await terminateAll(client, ids, 'bench: wave deadline passed');
  }
  // Terminated sagas settle quickly; never wait long for them.
  await Promise.race([Promise.allSettled(stragglers), new Promise((r) => setTimeout(r, 30_000))]);
  return {
    inFlight,
    planned: total,
    started,
    ok,
    errors,
    timeouts: unfinished.length,
    seconds,
    sagasPerSecond: seconds > 0 ? ok / seconds : 0,
    p50: percentile(latencies, 50),
    firstErrors,
  };
}

/** Size of one workflow history. */
export interface HistoryStats {
  events: number;
  activities: number;
  localActivities: number;
  workflowTasks: number;
}

/** Counts the events of a closed workflow's history (`fetchHistory`). */
export async function historyStats(client: Client, workflowId: string): Promise<HistoryStats> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  return {
    events: events.length,
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    localActivities: events.filter((e) => e.markerRecordedEventAttributes).length,
    workflowTasks: events.filter((e) => e.workflowTaskCompletedEventAttributes).length,
  };
}

/** Memory of the bench process while sagas are parked. */
export interface ParkResult {
  count: number;
  reached: number;
  cached: number;
  secondsToPark: number;
  rssDeltaMiB: number;
  heapDeltaMiB: number;
  /** RSS delta per workflow in the parking worker's cache, times 1000. */
  rssPer1000MiB: number;
  heapPer1000MiB: number;
  how: string;
}

let gcFn: (() => void) | undefined;
function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** RSS and heap after GC: the lowest of three samples 200 ms apart (allocators return memory lazily). */
async function sampleMemory(): Promise<{ rss: number; heapUsed: number }> {
  let rss = Infinity;
  let heapUsed = Infinity;
  for (let i = 0; i < 3; i++) {
    gc();
    await settle(200);
    const m = process.memoryUsage();
    rss = Math.min(rss, m.rss);
    heapUsed = Math.min(heapUsed, m.heapUsed);
  }
  return { rss, heapUsed };
}

/**
 * Parks `count` sagas on the contender's parking worker (in this process), waits until they
 * all reached their parked state (bounded by `timeoutMs`), and measures the RSS and heap
 * delta (after GC) against the moment before the first of them started. One saga is parked
 * before that moment so that the workflow bundle, the workflow threads and the connections
 * of the parking worker are not counted. Then terminates them all.
 */
export async function parkAndMeasure(
  c: Contender,
  count: number,
  timeoutMs: number,
  keyOf: (i: number) => string,
): Promise<ParkResult> {
  const parking = c.parking!;
  await parking.prepare(count);
  const warmKey = keyOf(count);
  const keys = Array.from({ length: count }, (_, i) => keyOf(i));
  try {
    await parking.start(warmKey);
    const warmDeadline = performance.now() + 60_000;
    while (parking.reached() < 1 && performance.now() < warmDeadline) await settle(100);
    await settle(2000);
    const before = await sampleMemory();
    const cachedBefore = parking.cached();
    const reachedBefore = parking.reached();
    const t0 = performance.now();
    const starts = await mapLimit(keys, 50, (k) => parking.start(k));
    const failed = starts.filter((s) => s.status === 'rejected');
    if (failed.length > 0) {
      const first = (failed[0] as PromiseRejectedResult).reason as unknown;
      throw new Error(`${failed.length} parked sagas did not start: ${message(first)}`);
    }
    const deadline = t0 + timeoutMs;
    while (parking.reached() - reachedBefore < count && performance.now() < deadline) await settle(250);
    const secondsToPark = (performance.now() - t0) / 1000;
    await settle(2000);
    const after = await sampleMemory();
    const cached = parking.cached() - cachedBefore;
    const mib = (b: number) => b / 1024 / 1024;
    const rssDeltaMiB = mib(after.rss - before.rss);
    const heapDeltaMiB = mib(after.heapUsed - before.heapUsed);
    return {
      count,
      reached: parking.reached() - reachedBefore,
      cached,
      secondsToPark,
      rssDeltaMiB,
      heapDeltaMiB,
      rssPer1000MiB: (rssDeltaMiB * 1000) / Math.max(1, cached),
      heapPer1000MiB: (heapDeltaMiB * 1000) / Math.max(1, cached),
      how: parking.how,
    };
  } finally {
    await parking.release([warmKey, ...keys]);
  }
}
