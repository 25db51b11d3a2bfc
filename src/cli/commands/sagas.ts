/** Saga commands: start, status, list, abort, compensate, retry, resolve. */
import { sleep } from '../../sleep.js';
import type { Command } from 'commander';
import type { SagaClient, SagaStatus, StartedRetry } from '../../client/index.js';
import { SAGA_STATES, type SagaState } from '../../saga/contracts.js';
import { CliError } from '../errors.js';
import {
  collectPlugin,
  config,
  loadCliPlugins,
  PLUGIN_OPTION_HELP,
  printJson,
  printTable,
  readJsonFile,
  withSagaClient,
} from '../context.js';

const firstLine = (text: string | null | undefined): string => (text ?? '').split('\n')[0] ?? '';

/**
 * The cause of every failed step and compensation, latest first per step and phase, with how
 * often it failed (a retried compensation that fails again is counted, not repeated).
 */
function printFailures(s: SagaStatus): void {
  const latest = new Map<string, { phase: string; stepId: string; error: string; times: number }>();
  for (const f of s.failures) {
    const key = `${f.phase}\u0000${f.stepId}`;
    const seen = latest.get(key);
    latest.set(key, { phase: f.phase, stepId: f.stepId, error: f.error, times: (seen?.times ?? 0) + 1 });
  }
  if (latest.size === 0) return;
  process.stdout.write('failures:\n');
  for (const f of latest.values()) {
    process.stdout.write(
      `  ${f.phase} ${f.stepId}${f.times > 1 ? ` (failed ${f.times} times, latest)` : ''}: ${firstLine(f.error)}\n`,
    );
  }
}

function printStatus(s: SagaStatus): void {
  if (s.stuck) {
    // The workflow answers nothing: show what Temporal knows and what to do.
    process.stdout.write(
      `saga ${s.sagaId} (${s.name}): STUCK (last recorded state ${s.state}): its workflow task fails ` +
        `(${s.stuck.cause}, ${s.stuck.attempts} attempts${s.stuck.since ? `, since ${s.stuck.since}` : ''}): ` +
        `${s.stuck.message.split('\n')[0]}\n` +
        `what to do: ${s.stuck.hint}\n`,
    );
    if (s.steps.length > 0) process.stdout.write(`steps: ${s.steps.map((st) => st.id).join(', ')}\n`);
    return;
  }
  process.stdout.write(
    `saga ${s.sagaId} (${s.name}): ${s.state}, ${s.completedSteps}/${s.totalSteps} steps` +
      (s.failedAt ? `, failed at ${s.failedAt}` : '') +
      (s.error ? `: ${s.error}` : '') +
      '\n',
  );
  printTable(
    ['step', 'backend', 'operation', 'kind', 'state', 'attempts', 'error'],
    s.steps.map((st) => [
      st.id,
      st.backend,
      st.operation,
      st.kind,
      st.state,
      st.attempts,
      st.compensationError ? `compensation: ${firstLine(st.compensationError)}` : firstLine(st.error),
    ]),
  );
  printFailures(s);
  if (s.compensationStack.length > 0) {
    process.stdout.write(
      `pending compensations (run newest first): ${s.compensationStack.map((c) => c.stepId).join(', ')}\n`,
    );
  }
}

const REFUSALS_HELP = `
Refused with exit 2 and one line naming the field or limit, before anything is written:
an invalid definition, one over a limit (POLYSAGA_MAX_DEFINITION_BYTES, default 16 MiB
serialized; POLYSAGA_MAX_STEPS, default 1000; POLYSAGA_MAX_STEP_PAYLOAD_BYTES, default 4 MiB
per step payload), a step timeout below POLYSAGA_MIN_STEP_TIMEOUT (default 1s), a retry
interval of zero, a step that touches polysaga's own objects (uds3_saga_events, polysaga_*
tables, its Redis keys, S3 prefix and Neo4j labels) or an object outside a POLYSAGA_ALLOW_*
allowlist. See docs/definitions.md, "Limits", and docs/security.md, "Guarded stores".`;
const SCOPE_HELP = `
PROJECT_PREFIX and ENV (defaults polysaga, prod) make a scope: outside the defaults, saga <id>
runs as workflow @<PROJECT_PREFIX>-<ENV>/<id> on task queue <PROJECT_PREFIX>-<ENV>, and every
command takes and prints <id> (docs/configuration.md, "Scopes").`;
interface AbortOptions {
  reason: string;
  terminate?: boolean;
  wait?: boolean;
  json?: boolean;
}

/** States in which a saga waits for nobody but an operator, or has ended. */
const SETTLED: readonly SagaState[] = ['COMMITTED', 'ROLLED_BACK', 'FAILED', 'RESOLVED'];

/** Whether the saga has passed its pivot (a pivot or retriable step succeeded): an abort then completes forward. */
function pastPivot(s: SagaStatus): boolean {
  return s.steps.some((st) => st.kind !== 'compensatable' && st.state === 'SUCCEEDED');
}

/** Polls the status until the saga settles; `onStatus` sees every status read. */
async function waitSettled(
  client: SagaClient,
  sagaId: string,
  onStatus: (s: SagaStatus) => void = () => undefined,
): Promise<SagaStatus> {
  for (;;) {
    const s = await client.getStatus(sagaId);
    onStatus(s);
    if (SETTLED.includes(s.state) || s.stuck) return s;
    await sleep(250);
  }
}

/** One line for the end of a wait: the saga state and, unless it ended well, why. */
function printSettled(s: SagaStatus): void {
  const good = s.state === 'ROLLED_BACK' || s.state === 'COMMITTED' || s.state === 'RESOLVED';
  process.stdout.write(`saga ${s.sagaId}: ${s.state}${!good && s.error ? `: ${s.error}` : ''}\n`);
}

/** `retry`'s first line: the transition and what runs again. */
function retryLine(r: StartedRetry): string {
  const what =
    r.phase === 'step'
      ? `retrying step ${r.stepIds.join(', ')}`
      : `retrying ${r.stepIds.length} failed compensation${r.stepIds.length === 1 ? '' : 's'}: ${r.stepIds.join(', ')}`;
  return `saga ${r.sagaId}: ${r.before.state} → ${r.status.state} (${what})`;
}

/**
 * Follows a retry round: one line per compensation (or for the retried step) as it finishes,
 * until the round ends and the saga settles. Returns the final status.
 */
async function followRetry(client: SagaClient, r: StartedRetry, quiet: boolean): Promise<SagaStatus> {
  const printed = new Set<string>();
  const base = r.before.failures.length;
  const attemptsBefore = new Map(r.before.steps.map((st) => [st.id, st.attempts]));
  const report = (s: SagaStatus) => {
    const out = (line: string) => {
      if (!quiet) process.stdout.write(`${line}\n`);
    };
    // Failures of this round are the entries added after the retry started (in order).
    for (const f of s.failures.slice(base)) {
      if (!r.stepIds.includes(f.stepId) || printed.has(f.stepId)) continue;
      if (f.phase !== r.phase) continue;
      printed.add(f.stepId);
      out(`${r.phase} ${f.stepId} failed: ${f.error.split('\n')[0]}`);
    }
    for (const id of r.stepIds) {
      if (printed.has(id)) continue;
      const st = s.steps.find((x) => x.id === id);
      if (r.phase === 'compensation' && st?.state === 'COMPENSATED') {
        printed.add(id);
        out(`compensation ${id} undone`);
      } else if (
        r.phase === 'step' &&
        st?.state === 'SUCCEEDED' &&
        st.attempts > (attemptsBefore.get(id) ?? 0)
      ) {
        printed.add(id);
        out(`step ${id} succeeded`);
      }
    }
  };
  let final: SagaStatus | undefined;
  let failure: Error | undefined;
  const round = r.result().then(
    (s) => void (final = s),
    (err: unknown) => void (failure = err instanceof Error ? err : new Error(String(err))),
  );
  while (final === undefined && failure === undefined) {
    report(await client.getStatus(r.sagaId));
    await Promise.race([round, sleep(250)]);
  }
  if (failure !== undefined) throw failure;
  report(final as SagaStatus);
  // After a step retry the saga goes on forward: wait until it commits or needs a person again.
  return SETTLED.includes((final as SagaStatus).state)
    ? (final as SagaStatus)
    : waitSettled(client, r.sagaId, report);
}

/** Exit status of a finished saga: 0 when it committed, 1 otherwise. */
function finishedExitCode(state: SagaState): number {
  return state === 'COMMITTED' ? 0 : 1;
}

export function registerSagaCommands(program: Command): void {
  program
    .command('start')
    .argument('<definition.json>', 'a saga definition (see docs/definitions.md)')
    .option(
      '--wait',
      'wait until the saga settles (COMMITTED, ROLLED_BACK or FAILED); exit 1 unless it COMMITTED',
    )
    .option('--json', 'machine-readable output')
    .option('--saga-id <id>', "override the definition's sagaId")
    .option('--plugin <path>', PLUGIN_OPTION_HELP, collectPlugin)
    .description(
      'validate a saga definition and start it (invalid definitions are rejected before anything runs)',
    )
    .addHelpText('after', `${REFUSALS_HELP}\n${SCOPE_HELP}`)
    .action(
      async (file: string, opts: { wait?: boolean; json?: boolean; sagaId?: string; plugin?: string[] }) => {
        const plugins = await loadCliPlugins(opts.plugin);
        const raw = readJsonFile(file);
        const definition =
          opts.sagaId && typeof raw === 'object' && raw !== null ? { ...raw, sagaId: opts.sagaId } : raw;
        await withSagaClient(
          async (client) => {
            const started = await client.createSaga(definition);
            if (!opts.wait) {
              if (opts.json) printJson({ sagaId: started.sagaId, runId: started.runId });
              else process.stdout.write(`started saga ${started.sagaId}\n`);
              return;
            }
            // A FAILED saga stays open for its operator: wait until it settles, not until it closes.
            const status = await waitSettled(client, started.sagaId);
            if (opts.json) printJson(status);
            else printStatus(status);
            process.exitCode = finishedExitCode(status.state);
          },
          { plugins },
        );
      },
    );

  program
    .command('validate')
    .argument('<definition.json>', 'a saga definition (see docs/definitions.md)')
    .option('--json', 'machine-readable output (the normalized definition)')
    .option('--plugin <path>', PLUGIN_OPTION_HELP, collectPlugin)
    .description(
      'check a saga definition as `start` would (catalog, limits, guarded stores), without connecting to anything',
    )
    .addHelpText('after', REFUSALS_HELP)
    .action(async (file: string, opts: { json?: boolean; plugin?: string[] }) => {
      const cfg = config();
      const plugins = await loadCliPlugins(opts.plugin);
      const [{ storeGuard }, { catalogWithPlugins }, { assertValidDefinition }] = await Promise.all([
        import('../../config/index.js'),
        import('../../plugins/catalog.js'),
        import('../../saga/validate.js'),
      ]);
      const def = assertValidDefinition(readJsonFile(file), catalogWithPlugins(plugins), {
        limits: cfg.limits,
        guard: storeGuard(cfg),
      });
      if (opts.json) printJson(def);
      else
        process.stdout.write(
          `valid: ${def.name}, ${def.steps.length} step${def.steps.length === 1 ? '' : 's'}\n`,
        );
    });

  program
    .command('status')
    .argument('<sagaId>')
    .option('--json', 'machine-readable output')
    .description(
      'show a saga: state, steps with attempts and errors, the cause of each failed step and compensation, ' +
        'pending compensations; a saga whose ' +
        'workflow task keeps failing is shown as STUCK with the cause (JSON: a `stuck` field)',
    )
    .action(async (sagaId: string, opts: { json?: boolean }) => {
      await withSagaClient(async (client) => {
        const s = await client.getStatus(sagaId);
        if (opts.json) printJson(s);
        else printStatus(s);
      });
    });

  program
    .command('list')
    .option('--state <state>', `only sagas in this state (${SAGA_STATES.join(', ')})`)
    .option('--name <name>', 'only sagas of this name')
    .option('--identity-key <key>', 'only sagas of this identity key')
    .option('--limit <n>', 'at most this many', '100')
    .option('--all', 'include sagas started by `polysaga verify` and the bench (left out by default)')
    .option('--json', 'machine-readable output')
    .description(
      'list sagas (newest first, one row per saga: its latest run) through Temporal visibility; only the ' +
        'scope of PROJECT_PREFIX and ENV (--json adds each workflowId, @<scope>/<sagaId> in a scope)',
    )
    .action(
      async (opts: {
        state?: string;
        name?: string;
        identityKey?: string;
        limit: string;
        all?: boolean;
        json?: boolean;
      }) => {
        if (opts.state && !(SAGA_STATES as readonly string[]).includes(opts.state)) {
          throw new CliError(`--state must be one of ${SAGA_STATES.join(', ')}`, 2);
        }
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CliError('--limit must be a positive whole number', 2);
        await withSagaClient(async (client) => {
          const rows = await client.listSagas({
            ...(opts.state ? { state: opts.state as SagaState } : {}),
            ...(opts.name ? { name: opts.name } : {}),
            ...(opts.identityKey ? { identityKey: opts.identityKey } : {}),
            ...(opts.all ? { all: true } : {}),
            limit,
          });
          if (opts.json) return printJson(rows);
          printTable(
            ['sagaId', 'name', 'state', 'identityKey', 'started'],
            rows.map((r) => [r.sagaId, r.name, r.state, r.identityKey, r.startTime.toISOString()]),
          );
        });
      },
    );

  program
    .command('abort')
    .argument('<sagaId>')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'aborted by operator')
    .option('--wait', 'wait until the saga settles; exit 0 when it ROLLED_BACK (or COMMITTED past its pivot)')
    .option(
      '--terminate',
      'last resort for a STUCK saga (its workflow task keeps failing): terminate its workflow and release ' +
        'its identity key; nothing is compensated until `polysaga recover` unwinds it from the audit trail',
    )
    .description(
      'abort a PENDING or EXECUTING saga: before its pivot it stops (a step that is retrying is cancelled at ' +
        'once) and undoes its completed steps; after the pivot it completes forward',
    )
    .addHelpText(
      'after',
      `
Refused with exit 1 and one line naming the state and the command that fits:
  FAILED        it already tried to unwind: \`polysaga retry\` runs the failed compensations again,
                \`polysaga resolve --reason\` closes it once you dealt with them by hand
  COMPENSATING  it is already undoing its steps
  COMMITTED     \`polysaga compensate\` undoes a committed saga
  ROLLED_BACK, RESOLVED  it has ended
  STUCK         its workflow task keeps failing: --terminate, then \`polysaga recover\``,
    )
    .option(
      '--json',
      'machine-readable output: the status after the abort was accepted (--wait: the final status)',
    )
    .action(async (sagaId: string, opts: AbortOptions) => {
      await withSagaClient(async (client) => {
        if (!opts.terminate && opts.json) {
          const s = await client.abortSaga(sagaId, opts.reason);
          if (!opts.wait) return printJson(s);
          const end = await waitSettled(client, sagaId);
          printJson(end);
          process.exitCode = end.state === 'ROLLED_BACK' || end.state === 'COMMITTED' ? 0 : 1;
          return;
        }
        if (!opts.terminate) {
          const s = await client.abortSaga(sagaId, opts.reason);
          process.stdout.write(
            `saga ${sagaId}: ${s.state}, abort accepted: ` +
              (pastPivot(s)
                ? 'it is past its pivot, so it completes forward and commits\n'
                : 'it stops and undoes its completed steps, newest first\n'),
          );
          if (!opts.wait) return;
          const end = await waitSettled(client, sagaId);
          printSettled(end);
          process.exitCode = end.state === 'ROLLED_BACK' || end.state === 'COMMITTED' ? 0 : 1;
          return;
        }
        const t = await client.terminateSaga(sagaId, opts.reason);
        if (opts.json) return printJson(t);
        process.stdout.write(
          `terminated saga ${sagaId} (run ${t.runId})` +
            (t.stuck ? `; its workflow task was failing (${t.stuck.cause})` : '') +
            (t.identityKey === null
              ? ''
              : t.lockReleased
                ? `; identity key "${t.identityKey}" released`
                : `; identity key "${t.identityKey}" was not held by it`) +
            `\nnothing was compensated yet: run \`polysaga recover --saga-id ${sagaId}\` ` +
            `(after its --grace time, default 30s) to undo its recorded steps\n`,
        );
      });
    });

  program
    .command('compensate')
    .argument('<sagaId>')
    .option('--wait', 'wait until the undo finishes; exit 1 unless it ROLLED_BACK')
    .option('--json', 'machine-readable output: the saga id and run of the undo (--wait: the final status)')
    .description('undo a COMMITTED saga from its recorded compensation stack')
    .action(async (sagaId: string, opts: { wait?: boolean; json?: boolean }) => {
      await withSagaClient(async (client) => {
        const started = await client.compensateSaga(sagaId);
        if (!opts.wait) {
          if (opts.json)
            return printJson({ sagaId: started.sagaId, runId: started.runId, state: 'COMPENSATING' });
          return void process.stdout.write(`saga ${sagaId}: COMMITTED → COMPENSATING (undo started)\n`);
        }
        const result = await started.result();
        if (opts.json) printJson(result.status);
        else printStatus(result.status);
        process.exitCode = result.status.state === 'ROLLED_BACK' ? 0 : 1;
      });
    });

  program
    .command('retry')
    .argument('<sagaId>')
    .option(
      '--wait',
      'follow the round: one line per compensation as it finishes, then the final state; exit 0 when ' +
        'the saga ROLLED_BACK (or COMMITTED after a step retry), 1 when it is FAILED again',
    )
    .option(
      '--json',
      'machine-readable output: the status after the retry was accepted (--wait: the final status)',
    )
    .description(
      'run the failed compensations of a FAILED saga again (or, past its pivot, its failed step); answers at ' +
        'once with the new state (exit 0) unless --wait',
    )
    .addHelpText(
      'after',
      `
Example:
  $ polysaga retry doc-42 --wait
  saga doc-42: FAILED → COMPENSATING (retrying 1 failed compensation: row)
  compensation row undone
  saga doc-42: ROLLED_BACK
Refused with exit 1 and one line naming the state unless the saga is FAILED.`,
    )
    .action(async (sagaId: string, opts: { json?: boolean; wait?: boolean }) => {
      await withSagaClient(async (client) => {
        const r = await client.startRetry(sagaId);
        if (!opts.json) process.stdout.write(`${retryLine(r)}\n`);
        if (!opts.wait) {
          if (opts.json) printJson(r.status);
          return;
        }
        const end = await followRetry(client, r, opts.json === true);
        if (opts.json) printJson(end);
        else printSettled(end);
        process.exitCode = end.state === 'ROLLED_BACK' || end.state === 'COMMITTED' ? 0 : 1;
      });
    });

  program
    .command('resolve')
    .argument('<sagaId>')
    .requiredOption('--reason <text>', 'what the operator did (recorded)')
    .option('--by <name>', 'who resolved it')
    .description(
      'close a FAILED saga as manually resolved (releases its identity key); refused with exit 1 naming ' +
        'the state unless it is FAILED (during a retry round it is COMPENSATING: wait until it settles)',
    )
    .option('--json', 'machine-readable output: the status after the resolution')
    .action(async (sagaId: string, opts: { reason: string; by?: string; json?: boolean }) => {
      await withSagaClient(async (client) => {
        const s = await client.resolveSaga(sagaId, opts.reason, opts.by);
        if (opts.json) return printJson(s);
        process.stdout.write(`saga ${sagaId}: FAILED → ${s.state} (${opts.reason})\n`);
      });
    });
}
