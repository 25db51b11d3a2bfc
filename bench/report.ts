/**
 * The report of `npm run bench`: every figure per contender, its target from issue 8
 * ("Targets on this 2-core machine") and its ratio to the bare Temporal saga, as a Markdown
 * table and as JSON. Pure: no I/O (run.ts prints and writes the files).
 */
import type { BenchOptions, ContenderKey } from './options.js';
import type { HistoryStats, ParkResult, Residue, WaveResult } from './scenarios.js';
import { ratio, type LatencySummary } from './stats.js';

/** issue 8's bare Temporal p50 for the 4 writes, measured before this work. */
export const ISSUE8_BARE_P50_MS = 251;

/** Everything measured for one contender. */
export interface ContenderResult {
  key: ContenderKey;
  label: string;
  /** Why the contender did not run (the row prints n/a). */
  unsupported: string | null;
  latency?: { summary: LatencySummary; errors: string[] };
  rollback?: { summary: LatencySummary; errors: string[] };
  residue?: Residue;
  waves: WaveResult[];
  history?: { committed: HistoryStats | null; rolledBack: HistoryStats | null };
  park?: ParkResult;
  cli?: {
    runs: number;
    helpMs: number;
    statusMs: number;
    helpExitCode: number | null;
    statusExitCode: number | null;
    /** `polysaga status` against a closed port: POLYSAGA_CONNECT_TIMEOUT (3 s) plus start-up. */
    unreachableMs?: number;
    unreachableExitCode?: number | null;
  };
  /** Phases that threw (the figure is missing, the message says why). */
  failures: string[];
}

/** The whole report (bench/reports/latest.json). */
export interface BenchReport {
  date: string;
  commit: string | null;
  host: { cpus: number; loadAverage: number[] };
  options: BenchOptions;
  seconds: number;
  contenders: ContenderResult[];
}

type Verdict = boolean | null;

interface Figure {
  name: string;
  target: string;
  /** The number compared with bare (null: missing). */
  value(r: ContenderResult): number | null;
  cell(r: ContenderResult, v: number): string;
  verdict?(r: ContenderResult, v: number, all: Map<ContenderKey, ContenderResult>): Verdict;
  /** Show the ratio to bare (default true). */
  ratio?: boolean;
  only?: ContenderKey[];
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

function num(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

const isPolysaga = (k: ContenderKey) => k === 'polysaga' || k === 'fast';

function ratioTarget(max: number, lowerIsBetter = true) {
  return (r: ContenderResult, v: number, all: Map<ContenderKey, ContenderResult>, f: Figure): Verdict => {
    if (!isPolysaga(r.key)) return null;
    const bare = all.get('bare');
    const q = bare ? ratio(v, f.value(bare)) : null;
    if (q === null) return null;
    return lowerIsBetter ? q <= max : q >= max;
  };
}

function historyCell(h: HistoryStats): string {
  const parts = [`${h.activities} act`];
  if (h.localActivities > 0) parts.push(`${h.localActivities} local`);
  parts.push(`${h.workflowTasks} wft`);
  return `${h.events} (${parts.join(', ')})`;
}

function figures(options: BenchOptions): Figure[] {
  const o = options;
  const p50Ratio = ratioTarget(1.2);
  const list: Figure[] = [
    {
      name: `p50, 1 in flight (n=${options.sagas})`,
      target: `polysaga ≤ 1.2× bare; fast ≤ 0.5× polysaga; bare well under ${ISSUE8_BARE_P50_MS} ms`,
      value: (r) => r.latency?.summary.p50 ?? null,
      cell: (_r, v) => ms(v),
      verdict(r, v, all) {
        if (r.key === 'bare') return v < ISSUE8_BARE_P50_MS;
        if (r.key === 'fast') {
          const regular = all.get('polysaga')?.latency?.summary.p50;
          const q = ratio(v, regular);
          return q === null ? null : q <= 0.5;
        }
        return p50Ratio(r, v, all, this);
      },
    },
    {
      name: 'p95, 1 in flight',
      target: '—',
      value: (r) => r.latency?.summary.p95 ?? null,
      cell: (_r, v) => ms(v),
    },
    {
      name: 'p99, 1 in flight',
      target: '—',
      value: (r) => r.latency?.summary.p99 ?? null,
      cell: (_r, v) => ms(v),
    },
    {
      name: `rollback p50, 3 undos (n=${options.rollbacks})`,
      target: 'polysaga ≤ 1.3× bare',
      value: (r) => r.rollback?.summary.p50 ?? null,
      cell: (_r, v) => ms(v),
      verdict(r, v, all) {
        return ratioTarget(1.3)(r, v, all, this);
      },
    },
  ];
  for (const level of options.inFlight) {
    const waveOf = (r: ContenderResult) => r.waves.find((w) => w.inFlight === level);
    list.push({
      name: `sagas/s at ${level} in flight (errors, timeouts)`,
      target: `polysaga ≥ 0.85× bare${level === 500 ? '; ≥ 30/s with no timeouts' : ''}`,
      value: (r) => waveOf(r)?.sagasPerSecond ?? null,
      cell(r, v) {
        const w = waveOf(r)!;
        return `${num(v)}/s (${w.errors} err, ${w.timeouts} t/o of ${w.started})`;
      },
      verdict(r, v, all) {
        const base = ratioTarget(0.85, false)(r, v, all, this);
        if (base === null || level !== 500) return base;
        return base && v >= 30 && waveOf(r)!.timeouts === 0;
      },
    });
  }
  list.push(
    {
      name: 'history events, committed',
      target: 'polysaga ≤ 1.3× bare',
      value: (r) => r.history?.committed?.events ?? null,
      cell: (r) => historyCell(r.history!.committed!),
      verdict(r, v, all) {
        return ratioTarget(1.3)(r, v, all, this);
      },
    },
    {
      name: 'history events, rolled back',
      target: 'polysaga ≤ 1.3× bare',
      value: (r) => r.history?.rolledBack?.events ?? null,
      cell: (r) => historyCell(r.history!.rolledBack!),
      verdict(r, v, all) {
        return ratioTarget(1.3)(r, v, all, this);
      },
    },
    {
      name: `worker memory per 1000 parked (RSS; main heap) (n=${options.park})`,
      target: '— (reported)',
      value: (r) => r.park?.rssPer1000MiB ?? null,
      cell: (r, v) =>
        `${num(v)} MiB; ${num(r.park!.heapPer1000MiB)} MiB` +
        (r.park!.reached < r.park!.count
          ? ` (only ${r.park!.reached}/${r.park!.count} parked in ${o.parkTimeoutMs / 1000} s)`
          : ''),
    },
    {
      name: 'residue after every rollback (rows, keys)',
      target: '0 (must be)',
      value: (r) => (r.residue ? r.residue.rows + r.residue.keys : null),
      cell: (r) => `${r.residue!.rows} rows, ${r.residue!.keys} keys (${r.residue!.sagas} rollbacks)`,
      verdict: (_r, v) => v === 0,
      ratio: false,
    },
    {
      name: `\`polysaga --help\` (process start to exit, best run)`,
      target: '< 500 ms',
      value: (r) => r.cli?.helpMs ?? null,
      verdict: (_r, v) => v < 500,
      cell: (r, v) => `${ms(v)}${r.cli!.helpExitCode === 0 ? '' : ` (exit ${r.cli!.helpExitCode})`}`,
      ratio: false,
      only: ['polysaga'],
    },
    {
      name: `\`polysaga status <id>\` (process start to exit, best run)`,
      target: '< 1 s',
      value: (r) => r.cli?.statusMs ?? null,
      verdict: (_r, v) => v < 1000,
      cell: (r, v) => `${ms(v)}${r.cli!.statusExitCode === 0 ? '' : ` (exit ${r.cli!.statusExitCode})`}`,
      ratio: false,
      only: ['polysaga'],
    },
    {
      name: `\`polysaga status\` with Temporal unreachable (until exit 5)`,
      target: '< 3 s + start-up',
      value: (r) => r.cli?.unreachableMs ?? null,
      verdict: (r, v) => v < 3000 + (r.cli?.helpMs ?? 0),
      cell: (r, v) =>
        `${ms(v)}${r.cli!.unreachableExitCode === 5 ? '' : ` (exit ${r.cli!.unreachableExitCode ?? 'none'})`}`,
      ratio: false,
      only: ['polysaga'],
    },
  );
  return list;
}

function cellFor(f: Figure, r: ContenderResult, all: Map<ContenderKey, ContenderResult>): string {
  if (r.unsupported !== null) return 'n/a (not supported by this build)';
  if (f.only && !f.only.includes(r.key)) return '';
  const v = f.value(r);
  if (v === null) return r.key === 'direct' && f.name.startsWith('history') ? '' : '—';
  let text = f.cell(r, v);
  const bare = all.get('bare');
  if (f.ratio !== false && r.key !== 'bare' && bare) {
    const q = ratio(v, f.value(bare));
    if (q !== null) text += ` · ${q.toFixed(2)}× bare`;
  }
  const verdict = f.verdict?.(r, v, all) ?? null;
  if (verdict !== null) text += verdict ? ' ✓' : ' ✗';
  return text;
}

/** The Markdown report: settings, the table, the parking explanation and every failure. */
export function renderMarkdown(report: BenchReport): string {
  const all = new Map(report.contenders.map((r) => [r.key, r]));
  const cols = report.contenders;
  const o = report.options;
  const lines: string[] = [];
  lines.push(`## polysaga bench, ${report.date}${report.commit ? ` (commit ${report.commit})` : ''}`);
  lines.push('');
  lines.push(
    `Same 4 writes per saga (3 PostgreSQL rows + 1 Redis key; rollback: the 4th write is a duplicate row, ` +
      `the 3 rows are deleted newest-first). ${report.host.cpus} CPUs, load ${report.host.loadAverage
        .map((l) => l.toFixed(2))
        .join(
          ' ',
        )} at the start; ${o.quick ? 'BENCH_QUICK smoke run; ' : ''}waves of ≥ ${o.waveSagas} sagas ` +
      `bounded to ${o.waveTimeoutMs / 1000} s; whole run ${Math.round(report.seconds)} s.`,
  );
  lines.push('');
  lines.push(`| figure | ${cols.map((c) => c.label).join(' | ')} | target (issue 8) |`);
  lines.push(`| --- | ${cols.map(() => '---').join(' | ')} | --- |`);
  for (const f of figures(o)) {
    lines.push(`| ${f.name} | ${cols.map((c) => cellFor(f, c, all)).join(' | ')} | ${f.target} |`);
  }
  lines.push('');
  lines.push('`· n× bare` = ratio to the bare Temporal saga; ✓ / ✗ = target met / not met (never asserted).');
  lines.push(
    'History: events (activities scheduled, local-activity markers, workflow tasks completed). Memory: RSS ' +
      'delta of the bench process (workers run in it; workflow threads count in RSS only) and main-thread heap ' +
      'delta after GC, divided by the workflows in the parking worker cache and scaled to 1000. The RSS holds garbage that the ' +
      'workflow threads have not collected yet (the bench can force GC on the main thread only), so it varies by up to 2× between runs.',
  );
  for (const c of cols) {
    if (c.park)
      lines.push(
        `- parked (${c.label}): ${c.park.how} ${c.park.reached}/${c.park.count} reached it in ` +
          `${num(c.park.secondsToPark)} s; ${c.park.cached} were in the worker cache when measured.`,
      );
  }
  for (const c of cols) {
    const errs = [
      ...c.failures,
      ...(c.latency?.errors ?? []).map((e) => `commit: ${e}`),
      ...(c.rollback?.errors ?? []).map((e) => `rollback: ${e}`),
      ...c.waves.flatMap((w) => w.firstErrors.map((e) => `wave ${w.inFlight}: ${e}`)),
    ];
    if (c.unsupported) lines.push(`- ${c.label}: ${c.unsupported}`);
    for (const e of errs.slice(0, 5)) lines.push(`- ${c.label} error: ${e}`);
    if (errs.length > 5) lines.push(`- ${c.label}: ${errs.length - 5} more errors (see latest.json)`);
  }
  return `${lines.join('\n')}\n`;
}
