/** Operations commands: migrate, worker, events. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import {
  collectPlugin,
  config,
  loadCliPlugins,
  PLUGIN_OPTION_HELP,
  installWorkerLogging,
  printJson,
  printTable,
  withPool,
  workerLogFormat,
} from '../context.js';

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
    .option(
      '--task-queue <name>',
      "poll this task queue instead of TEMPORAL_TASK_QUEUE (default: polysaga, or the scope's <PROJECT_PREFIX>-<ENV>)",
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus /metrics on this port (default POLYSAGA_METRICS_PORT; unset: off)',
    )
    .option('--plugin <path>', PLUGIN_OPTION_HELP, collectPlugin)
    .description(
      'run a saga worker: polls Temporal and executes saga workflows and backend activities until Ctrl-C',
    )
    .action(async (opts: { taskQueue?: string; metricsPort?: string; plugin?: string[] }) => {
      const cfg = config();
      const plugins = await loadCliPlugins(opts.plugin);
      let metricsPort = cfg.observability.metricsPort;
      if (opts.metricsPort !== undefined) {
        metricsPort = Number(opts.metricsPort);
        if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
          throw new CliError(`--metrics-port: not a port number: ${opts.metricsPort}`, 2);
      }
      // The SDK's runtime metrics: its own exporter on a loopback port, appended to /metrics.
      const { freeLoopbackPort } = await import('../../observability/metrics.js');
      const sdkMetricsPort = metricsPort !== undefined ? await freeLoopbackPort() : undefined;
      await installWorkerLogging(
        cfg.logLevel === 'DEBUG' ? 'DEBUG' : cfg.logLevel === 'INFO' ? 'INFO' : 'WARN',
        {
          ...(sdkMetricsPort ? { sdkMetricsPort } : {}),
        },
      );
      const { createSagaWorker } = await import('../../workers/index.js');
      const { formatLogLine } = await import('../../observability/logging.js');
      const w = await createSagaWorker({
        config: cfg,
        plugins,
        ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
        ...(metricsPort !== undefined
          ? {
              metrics: {
                port: metricsPort,
                host: cfg.observability.metricsHost,
                ...(sdkMetricsPort ? { sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics` } : {}),
              },
            }
          : {}),
      });
      const stop = () => void w.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Written whatever LOG_LEVEL says (scripts wait for it), in the worker's log format.
      const message =
        `polysaga worker polling ${w.config.temporal.address} namespace ${w.config.temporal.namespace} ` +
        `task queue ${opts.taskQueue ?? w.config.temporal.taskQueue}` +
        (w.config.scope !== '' ? ` (scope ${w.config.scope})` : '') +
        `; Web UI ${w.config.temporal.uiUrl}` +
        (w.metricsServer ? `; metrics ${w.metricsServer.url}` : '') +
        (plugins.length > 0
          ? `; plugins ${plugins.map((p) => `${p.name} (${[...p.backends.map((b) => b.name), ...p.compensations].join(', ') || 'nothing'})`).join(', ')}`
          : '');
      const meta = {
        sdkComponent: 'worker',
        taskQueue: opts.taskQueue ?? w.config.temporal.taskQueue,
        ...(w.metricsServer ? { metricsUrl: w.metricsServer.url } : {}),
        tracing: w.tracing !== undefined,
        ...(plugins.length > 0 ? { plugins: plugins.map((p) => p.path) } : {}),
      };
      process.stderr.write(
        formatLogLine(
          { level: 'INFO', message, meta, timestampNanos: BigInt(Date.now()) * 1_000_000n },
          workerLogFormat(),
        ),
      );
      await w.run();
    });

  program
    .command('events')
    .argument('<sagaId>')
    .option('--json', 'machine-readable output')
    .description(
      'print the audit trail of a saga from uds3_saga_events (PostgreSQL); in a scope (PROJECT_PREFIX, ENV) ' +
        'its rows are stored under @<scope>/<sagaId>, printed (--json too) under <sagaId>',
    )
    .action(async (sagaId: string, opts: { json?: boolean }) => {
      const [{ readEvents }, { scopedSagaId, unscopedSagaId }] = await Promise.all([
        import('../../audit/index.js'),
        import('../../saga/scope.js'),
      ]);
      await withPool(async (pool, cfg) => {
        const events = await readEvents(pool, scopedSagaId(cfg.scope, sagaId));
        if (events.length === 0) throw new CliError(`no audit events for saga ${sagaId}`, 3);
        // Named as everywhere in the CLI: by the saga id its user gave (list --json has the workflowId).
        if (opts.json)
          return printJson(events.map((e) => ({ ...e, sagaId: unscopedSagaId(cfg.scope, e.sagaId) })));
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
