/**
 * Knobs of `npm run bench`, read from the environment once. `BENCH_QUICK=1` shrinks every
 * scenario to a smoke run of about a minute; each BENCH_* variable overrides its figure.
 */

/** The contenders the bench knows, in the order they run. */
export const CONTENDER_KEYS = ['direct', 'bare', 'polysaga', 'fast'] as const;
export type ContenderKey = (typeof CONTENDER_KEYS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Sequential committed sagas for p50/p95/p99 (BENCH_SAGAS). */
  sagas: number;
  /** Sequential rolled-back sagas for the rollback p50 (BENCH_ROLLBACKS). */
  rollbacks: number;
  /** In-flight levels of the throughput waves (BENCH_IN_FLIGHT, comma-separated). */
  inFlight: number[];
  /** Sagas per wave: at least this many, and at least the in-flight level (BENCH_WAVE_SAGAS). */
  waveSagas: number;
  /** Time bound of one wave; sagas still running then count as timeouts (BENCH_WAVE_TIMEOUT_S). */
  waveTimeoutMs: number;
  /** Sagas parked for the memory figure (BENCH_PARK; 0 skips it). */
  park: number;
  /** Time bound for parking them all (BENCH_PARK_TIMEOUT_S). */
  parkTimeoutMs: number;
  /** Which contenders run (BENCH_CONTENDERS, comma-separated: direct,bare,polysaga,fast). */
  contenders: ContenderKey[];
  /** Time `polysaga --help` and `polysaga status` (BENCH_CLI=0 skips). */
  cli: boolean;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

/**
 * Reads the options.
 * @throws an Error naming the variable when a value is malformed.
 */
export function readBenchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const inFlightRaw = env.BENCH_IN_FLIGHT ?? (quick ? '10,50' : '50,500');
  const inFlight = inFlightRaw.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`BENCH_IN_FLIGHT must list integers ≥ 1, got ${inFlightRaw}`);
    return n;
  });
  const contenderRaw = env.BENCH_CONTENDERS ?? CONTENDER_KEYS.join(',');
  const contenders = contenderRaw.split(',').map((s) => {
    const k = s.trim();
    if (!(CONTENDER_KEYS as readonly string[]).includes(k))
      throw new Error(`BENCH_CONTENDERS: unknown contender ${k} (known: ${CONTENDER_KEYS.join(', ')})`);
    return k as ContenderKey;
  });
  return {
    quick,
    sagas: int(env, 'BENCH_SAGAS', quick ? 5 : 30, 1),
    rollbacks: int(env, 'BENCH_ROLLBACKS', quick ? 3 : 15, 1),
    inFlight,
    waveSagas: int(env, 'BENCH_WAVE_SAGAS', quick ? 20 : 100, 1),
    waveTimeoutMs: int(env, 'BENCH_WAVE_TIMEOUT_S', quick ? 30 : 120, 1) * 1000,
    park: int(env, 'BENCH_PARK', quick ? 50 : 1000),
    parkTimeoutMs: int(env, 'BENCH_PARK_TIMEOUT_S', quick ? 30 : 60, 1) * 1000,
    contenders: CONTENDER_KEYS.filter((k) => contenders.includes(k)),
    cli: env.BENCH_CLI !== '0',
  };
}
