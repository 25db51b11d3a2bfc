/** `polysaga recover`: retry FAILED sagas, unwind orphans from the audit trail (docs/recovery.md). */
import { Option, type Command } from 'commander';
import type { RecoveryReport, SagaFilter } from '../../recovery/index.js';
import { CliError } from '../errors.js';
import { config, loadConfigModule, printJson, printTable } from '../context.js';

let parseDurationMs: (value: string) => number = () => {
  throw new Error('internal: configuration module not loaded');
};

interface RecoverCliOptions {
  daemon?: boolean;
  interval: string;
  maxRetries?: string;
  initialInterval?: string;
  grace: string;
  sagaId?: string[];
  name?: string;
  json?: boolean;
}

function duration(flag: string, value: string): number {
  try {
    return parseDurationMs(value);
  } catch {
    throw new CliError(`${flag} must look like 500ms, 30s or 2m (got ${JSON.stringify(value)})`, 2);
  }
}

function printReport(report: RecoveryReport): void {
  const acted = report.sagas.filter((s) => s.kind !== 'running');
  if (acted.length === 0) {
    process.stdout.write(`recover: nothing to do (${report.sagas.length} saga(s) in progress left alone)\n`);
    return;
  }
  const counts = new Map<string, number>();
  for (const s of acted) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  process.stdout.write(
    `recover: ${acted.length} saga(s): ${[...counts].map(([o, n]) => `${n} ${o}`).join(', ')}` +
      (report.consistent ? '' : ' (needs a person)') +
      '\n',
  );
  printTable(
    ['saga', 'name', 'found', 'action', 'tries', 'outcome', 'detail'],
    acted.map((s) => [s.sagaId, s.sagaName, s.found, s.action, s.tries, s.outcome, s.detail]),
  );
}

/** Registers `polysaga recover`. */
export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description(
      'retry the compensations of FAILED sagas (exponential backoff) and unwind sagas whose Temporal workflow ' +
        'is gone from the audit trail; exit 0 when every saga found ends consistent, 1 if one is still FAILED',
    )
    .option('--daemon', 'keep running: one pass every --interval until Ctrl-C / SIGTERM')
    .option('--interval <duration>', 'time between passes with --daemon', '30s')
    .option('--max-retries <n>', 'tries per saga (default POLYSAGA_MAX_RETRIES, 3); 0 only reports')
    .option(
      '--initial-interval <duration>',
      'first backoff wait, doubled per try (default POLYSAGA_RETRY_INITIAL_INTERVAL, 1s)',
    )
    .option('--grace <duration>', 'an unfinished saga counts as orphaned only after this quiet time', '30s')
    .addOption(new Option('--saga-id <id...>', 'only these sagas'))
    .option('--name <name>', 'only sagas of this name')
    .option('--json', 'machine-readable output (with --daemon: one JSON line per pass)')
    .action(async (opts: RecoverCliOptions) => {
      ({ parseDurationMs } = await loadConfigModule());
      const { openRecoveryContext, recover, runRecoveryDaemon } = await import('../../recovery/index.js');
      const cfg = config();
      let maxRetries = cfg.retry.maxRetries;
      if (opts.maxRetries !== undefined) {
        maxRetries = Number(opts.maxRetries);
        if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 100) {
          throw new CliError('--max-retries must be a whole number from 0 to 100', 2);
        }
      }
      const intervalMs = duration('--interval', opts.interval);
      const graceMs = duration('--grace', opts.grace);
      const initialIntervalMs =
        opts.initialInterval !== undefined ? duration('--initial-interval', opts.initialInterval) : undefined;
      const { scopedSagaId, unscopedSagaId } = await import('../../saga/scope.js');
      // Only this configuration's scope (PROJECT_PREFIX, ENV); saga ids as their user gave them.
      const filter: SagaFilter = {
        ...(opts.sagaId && opts.sagaId.length > 0
          ? { sagaIds: opts.sagaId.map((id) => scopedSagaId(cfg.scope, id)) }
          : {}),
        ...(opts.name ? { name: opts.name } : {}),
        scope: cfg.scope,
      };
      const shown = (report: RecoveryReport): RecoveryReport => ({
        ...report,
        sagas: report.sagas.map((s) => ({ ...s, sagaId: unscopedSagaId(cfg.scope, s.sagaId) })),
      });
      const ctx = await openRecoveryContext(cfg);
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const pass = (defer?: (sagaId: string) => string | null) =>
          recover({
            ...ctx.options,
            maxRetries,
            ...(initialIntervalMs !== undefined ? { initialIntervalMs } : {}),
            graceMs,
            filter,
            signal: controller.signal,
            ...(defer ? { defer } : {}),
          });
        if (!opts.daemon) {
          const report = shown(await pass());
          if (opts.json) printJson(report);
          else printReport(report);
          process.exitCode = report.consistent ? 0 : 1;
          return;
        }
        process.stderr.write(`polysaga recover: daemon, one pass every ${opts.interval} (Ctrl-C stops)\n`);
        await runRecoveryDaemon({
          intervalMs,
          pass,
          signal: controller.signal,
          onReport: (full) => {
            const report = shown(full);
            if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
            else {
              // A daemon prints what it did; sagas left alone or backed off would repeat every pass.
              const acted = report.sagas.filter(
                (s) =>
                  s.action === 'retried' ||
                  s.action === 'unwound' ||
                  s.outcome === 'ERROR' ||
                  s.outcome === 'STUCK',
              );
              if (acted.length > 0) printReport({ ...report, sagas: acted });
            }
          },
          onError: (err) => {
            process.stderr.write(
              `polysaga recover: pass failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`,
            );
          },
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await ctx.close();
      }
    });
}
