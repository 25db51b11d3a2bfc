/** Operations commands: migrate, worker, events. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { config, installWorkerLogging, printJson, printTable, withPool } from '../context.js';

export function registerOpsCommands(program: Command): void {
  program
    .command('migrate')
    .option(
      '--concurrently',
      'build large indexes with CREATE INDEX CONCURRENTLY (PostgreSQL, no lock on writes)',
    )
    .option('--json', 'machine-readable output')
    .description('apply the SQL migrations in migrations/ (idempotent: running it twice changes nothing)')
    .action(async (opts: { concurrentIndexes?: boolean; json?: boolean }) => {
      const { migrate } = await import('../../audit/index.js');
      await withPool(async (pool, cfg) => {
        const result = await migrate(pool, { concurrentIndexes: opts.concurrentIndexes === true });
        if (opts.json) return printJson(result);
        const target = `${cfg.postgres.host}:${cfg.postgres.port}/${cfg.postgres.database}`;
        if (result.applied.length === 0)
          process.stdout.write(`${target}: up to date at version ${result.version}\n`);
        for (const m of result.applied) {
          process.stdout.write(`${target}: applied ${String(m.version).padStart(4, '0')}_${m.name}\n`);
        }
        for (const m of result.changed) {
          process.stderr.write(
            `warning: migration ${m.version}_${m.name} changed after it was applied (not re-run)\n`,
          );
        }
      });
    });

  program
    .command('worker')
    .option('--task-queue <name>', 'poll this task queue instead of TEMPORAL_TASK_QUEUE')
    .description(
      'run a saga worker: polls Temporal and executes saga workflows and backend activities until Ctrl-C',
    )
    .action(async (opts: { taskQueue?: string }) => {
      await installWorkerLogging(
        config().logLevel === 'DEBUG' ? 'DEBUG' : config().logLevel === 'INFO' ? 'INFO' : 'WARN',
      );
      const { createSagaWorker } = await import('../../workers/index.js');
      const w = await createSagaWorker({
        config: config(),
        ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
      });
      const stop = () => void w.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.stderr.write(
        `polysaga worker polling ${w.config.temporal.address} namespace ${w.config.temporal.namespace} ` +
          `task queue ${opts.taskQueue ?? w.config.temporal.taskQueue}; Web UI ${w.config.temporal.uiUrl}\n`,
      );
      await w.run();
    });

  program
    .command('events')
    .argument('<sagaId>')
    .option('--json', 'machine-readable output')
    .description('print the audit trail of a saga from uds3_saga_events (PostgreSQL)')
    .action(async (sagaId: string, opts: { json?: boolean }) => {
      const { readEvents } = await import('../../audit/index.js');
      await withPool(async (pool) => {
        const events = await readEvents(pool, sagaId);
        if (events.length === 0) throw new CliError(`no audit events for saga ${sagaId}`, 3);
        if (opts.json) return printJson(events);
        printTable(
          ['seq', 'time', 'status', 'step', 'attempt', 'ms', 'error'],
          events.map((e) => [
            e.seq,
            e.createdAt?.toISOString() ?? '',
            e.status,
            e.stepId,
            e.attempt,
            e.durationMs,
            e.error?.split('\n')[0],
          ]),
        );
      });
    });
}
