/**
 * `polysaga verify <definition.json>`: the consistency checker (docs/verify.md). Runs the saga
 * once per failure position on an in-process worker, compares every backend before and after the
 * compensation, prints a table and exits 1 if anything was left behind.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { VerifyReport } from '../../verify/index.js';
import { CliError } from '../errors.js';
import {
  collectPlugin,
  config,
  installWorkerLogging,
  loadCliPlugins,
  PLUGIN_OPTION_HELP,
  printJson,
  printTable,
  readJsonFile,
} from '../context.js';

const collect = (value: string, prev: string[] = []) => [...prev, value];

function positionList(value: string, prev: number[] = []): number[] {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--position: not a position: ${value}`, 2);
  return [...prev, n];
}

function short(value: unknown, max = 120): string {
  const s = JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function printReport(report: VerifyReport): void {
  const n = report.steps.length;
  printTable(
    ['position', 'failure injected at', 'state reached', 'residue'],
    report.rows.map((r) => [
      `${r.position}/${n}`,
      r.failedStep ?? '(none: commit, then undo)',
      r.state + (r.error ? ' (error, see below)' : ''),
      r.skipped ? 'skipped' : r.residue.length === 0 ? 'none' : r.residue.map((x) => x.target).join('; '),
    ]),
  );
  for (const r of report.rows) {
    if (r.error) process.stdout.write(`  position ${r.position}: ${r.error}\n`);
    for (const x of r.residue) {
      process.stdout.write(
        `  position ${r.position}: ${x.target} (steps ${x.stepIds.join(', ')}): before ${short(x.before)}, after ${short(x.after)}\n`,
      );
    }
    if (r.unobserved?.length) {
      process.stdout.write(
        `  note: the commit did not change ${r.unobserved.join('; ')} (not observed by the snapshot)\n`,
      );
    }
  }
  for (const u of report.unchecked) process.stdout.write(`  not checked: ${u}\n`);
  const bad = report.rows.filter((r) => !r.ok).length;
  process.stdout.write(
    `${report.name}: ${report.rows.length} runs, ${report.rows.filter((r) => r.residue.length > 0).length} with residue, ${bad} not ok\n`,
  );
}

export function registerVerify(program: Command): void {
  program
    .command('verify <definition>')
    .description(
      'consistency check: run the saga once per failure position (N steps: N+1 runs), compensate, and compare every backend with its state before the run',
    )
    .option('--json', 'machine-readable report')
    .option(
      '--setup <file>',
      'run a setup file first: .sql on PostgreSQL, .cypher on Neo4j (repeatable)',
      collect,
    )
    .option(
      '--rewrite <token>',
      'also replace this string with a fresh value per run (repeatable; the saga id is always replaced)',
      collect,
    )
    .option('--position <k>', 'run only this failure position, 0..N (repeatable)', positionList)
    .option('--task-queue <name>', 'task queue of the in-process worker (default: a fresh private one)')
    .option('--timeout <seconds>', 'time limit of one run (default 120)')
    .option(
      '--production-retries',
      'keep the production retry policies (default: 200 ms retry intervals, 3 compensation attempts)',
    )
    .option('--worker-logs', "print the in-process worker's logs (default: only its errors)")
    .option('--plugin <path>', PLUGIN_OPTION_HELP, collectPlugin)
    .option(
      '--break-compensation <stepId>',
      "self-test: make this step's compensation a no-op that reports success (repeatable)",
      collect,
    )
    .action(
      async (
        file: string,
        opts: {
          json?: boolean;
          setup?: string[];
          rewrite?: string[];
          position?: number[];
          taskQueue?: string;
          timeout?: string;
          productionRetries?: boolean;
          breakCompensation?: string[];
          workerLogs?: boolean;
          plugin?: string[];
        },
      ) => {
        const plugins = await loadCliPlugins(opts.plugin);
        const definition = readJsonFile(file);
        await installWorkerLogging(opts.workerLogs === true ? 'INFO' : 'ERROR', {
          quietWorkflows: opts.workerLogs !== true,
        });
        let runTimeoutMs: number | undefined;
        if (opts.timeout !== undefined) {
          const s = Number(opts.timeout);
          if (!Number.isFinite(s) || s <= 0)
            throw new CliError(`--timeout: not a number of seconds: ${opts.timeout}`, 2);
          runTimeoutMs = s * 1000;
        }
        const { verifyDefinition } = await import('../../verify/index.js');
        const report = await verifyDefinition(definition, {
          config: config(),
          plugins,
          ...(opts.setup ? { setup: opts.setup.map((f) => resolve(f)) } : {}),
          ...(opts.rewrite ? { rewrite: opts.rewrite } : {}),
          ...(opts.position ? { positions: opts.position } : {}),
          ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
          ...(runTimeoutMs !== undefined ? { runTimeoutMs } : {}),
          ...(opts.productionRetries ? { tuning: false as const } : {}),
          ...(opts.breakCompensation ? { breakCompensations: opts.breakCompensation } : {}),
          log: opts.json ? () => undefined : (line) => process.stderr.write(`verify: ${line}\n`),
        });
        if (opts.json) printJson(report);
        else printReport(report);
        if (!report.ok) {
          const residue = report.rows.filter((r) => r.residue.length > 0).map((r) => r.position);
          const failed = report.rows.filter((r) => !r.ok && r.residue.length === 0).map((r) => r.position);
          throw new CliError(
            `verify ${report.name}: ` +
              [
                residue.length ? `residue left behind at position(s) ${residue.join(', ')}` : '',
                failed.length ? `unexpected state or error at position(s) ${failed.join(', ')}` : '',
              ]
                .filter(Boolean)
                .join('; '),
            1,
          );
        }
      },
    );
}
