/**
 * The consistency checker behind `polysaga verify` (docs/verify.md).
 *
 * For a definition of N steps it runs the saga N+1 times on an in-process worker with a private
 * task queue. Run k (k = 0..N-1) injects a non-retryable `polysaga.InjectedFailure` into step
 * k+1 (the first k steps succeed, step k+1 fails before its operation runs), so the saga must
 * end ROLLED_BACK. Run N injects nothing: the saga must COMMIT, and is then undone with
 * `compensateSaga`, which must end ROLLED_BACK. Before each run every target the saga will touch
 * is snapshotted; after the compensation it is read again and compared. Anything that differs
 * is residue.
 */
import { sleep } from '../sleep.js';
import { TERMINAL_STATES } from '../saga/states.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createDataConverter } from '../blobs/codec.js';
import type { Backend } from '../backends/types.js';
import type { CompensationRegistry } from '../activities/compensations.js';
import { SagaClient, sagaRunResult } from '../client/index.js';
import { temporalConnectionOptions } from '../client/connect.js';
import { loadConfig, type Config } from '../config/index.js';
import type { ActivityTuning } from '../saga/activity-options.js';
import type { LoadedPlugin } from '../plugins/load.js';
import { mergedCatalog } from '../plugins/catalog.js';
import { builtinBackends } from '../backends/index.js';
import type { BackendDefinition } from '../backends/define.js';
import type { Catalog } from '../saga/catalog.js';
import { FailureTypes, type Json, type SagaActivities } from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';
import type { SagaStatus } from '../saga/status.js';
import { lockWorkflowId } from '../saga/identity.js';
import { assertValidDefinition } from '../saga/validate.js';
import { createSagaWorker, type SagaWorker } from '../workers/index.js';
import { instantiateRun, rewriteTokens, runTag } from './rewrite.js';
import { startExampleServices, type StartedServices } from './services.js';
import { openSnapshotReaders, takeSnapshot, type Snapshot, type SnapshotReaders } from './snapshot.js';
import { deriveTargets, snapshotsOf, type BackendSnapshots, type Target } from './targets.js';

/** One thing left behind: a target whose state after the compensation differs from before the run. */
export interface Residue {
  target: string;
  backend: string;
  stepIds: string[];
  /** What was there before the run (`null`: absent). */
  before: Json;
  /** What is there after the compensation. */
  after: Json;
}

/** One run of the checker: one failure position. */
export interface VerifyRow {
  /** k: the first k steps succeed; step k+1 fails. k = N: no failure (commit, then undo). */
  position: number;
  /** Id of the step that was made to fail (`null` for the commit run). */
  failedStep: string | null;
  sagaId: string;
  /** `ROLLED_BACK`, or `COMMITTED → ROLLED_BACK` for the commit run. */
  expectedState: string;
  /** The state(s) the saga reached, e.g. `ROLLED_BACK`, `COMMITTED → ROLLED_BACK`, `FAILED`. */
  state: string;
  /** Number of targets compared. */
  targets: number;
  residue: Residue[];
  /** Commit run only: targets that did not change when the saga committed (the snapshot may not see the write). */
  unobserved?: string[];
  /** Why the run was skipped (e.g. a failure after the pivot is not rolled back by design). */
  skipped?: string;
  /** An error that kept the run from completing (snapshot, start, timeout). */
  error?: string;
  durationMs: number;
  /** Expected state reached, no residue, no error. */
  ok: boolean;
}

export interface VerifyReport {
  name: string;
  steps: string[];
  taskQueue: string;
  /** Tokens rewritten per run (see docs/verify.md). */
  rewriteTokens: string[];
  /** HTTP services started in-process. */
  startedServices: string[];
  /** Effects that are not snapshotted (custom backends, unknown HTTP services, …). */
  unchecked: string[];
  rows: VerifyRow[];
  /** Every row ok. */
  ok: boolean;
}

export interface VerifyOptions {
  /** Configuration (default: loadConfig() from the environment). */
  config?: Config;
  /** Private task queue of the in-process worker (default `polysaga-verify-<random>`). */
  taskQueue?: string;
  /** Extra strings rewritten per run (besides the saga id and the identity key's id part). */
  rewrite?: string[];
  /** Only run these positions (default: 0..N). */
  positions?: number[];
  /** Setup files run once before the first run: `.sql` on PostgreSQL, `.cypher` on Neo4j. */
  setup?: string[];
  /** Time limit of one run, saga plus undo (default 120 000 ms). */
  runTimeoutMs?: number;
  /**
   * Retry tuning of the sagas verify starts (default `{ retryInterval: '200ms', compensationAttempts: 3 }`,
   * so that a failing compensation reaches FAILED quickly). `false`: production retry policies.
   */
  tuning?: ActivityTuning | false;
  /**
   * Test hook: step ids whose compensation is replaced by a no-op that reports success
   * (to prove that the checker detects residue).
   */
  breakCompensations?: string[];
  /** Extra catalog / backends / compensations, passed to the worker (backends given only here are unchecked). */
  catalog?: Catalog;
  backends?: Backend[];
  registerCompensations?: (registry: CompensationRegistry) => void;
  /**
   * Backends of your own (`defineBackend`): connected by the worker, their catalogs added; a
   * backend with a `snapshot` is checked for residue like the built-ins, one without is unchecked.
   */
  backendDefinitions?: readonly BackendDefinition[];
  /** Plugins (`loadPlugins`): their backends are added as `backendDefinitions` are. */
  plugins?: readonly LoadedPlugin[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

interface RunPlan {
  failStep: string | null;
  position: number;
}

/** Runs setup files: `.sql` through the pool (one multi-statement query), `.cypher` statement by statement. */
async function runSetup(worker: SagaWorker, files: readonly string[]): Promise<void> {
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const ext = extname(file).toLowerCase();
    if (ext === '.sql') await worker.resources.pool.query(text);
    else if (ext === '.cypher' || ext === '.cql') {
      const statements = text
        .split(/;\s*(?:\r?\n|$)/)
        .map((s) => s.replace(/^\s*\/\/.*$/gm, '').trim())
        .filter(Boolean);
      for (const s of statements) await worker.resources.neo4j.executeQuery(s);
    } else throw new Error(`setup file ${file}: expected .sql (PostgreSQL) or .cypher (Neo4j)`);
  }
}

function parse(s: string | undefined): Json {
  return s === undefined ? null : (JSON.parse(s) as Json);
}

function diff(targets: readonly Target[], before: Snapshot, after: Snapshot): Residue[] {
  const out: Residue[] = [];
  for (const t of targets) {
    if (before.get(t.id) !== after.get(t.id)) {
      out.push({
        target: t.id,
        backend: t.backend,
        stepIds: t.stepIds,
        before: parse(before.get(t.id)),
        after: parse(after.get(t.id)),
      });
    }
  }
  return out;
}

/** Waits until the saga's latest run closes, or it reports FAILED (which stays open for an operator). */
async function waitSettled(
  temporal: Client,
  sagas: SagaClient,
  sagaId: string,
  deadline: number,
): Promise<SagaStatus> {
  for (;;) {
    let d;
    try {
      d = await temporal.workflow.getHandle(sagaId).describe();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await sleep(100);
      continue;
    }
    if (d.status.name === 'COMPLETED' || d.status.name === 'FAILED') {
      // A rolled-back saga fails its workflow with its result (src/saga/outcome.ts).
      const result = await sagaRunResult(temporal.workflow.getHandle(sagaId, d.runId)).catch(
        (err: unknown) => {
          if (d.status.name === 'COMPLETED') throw err;
          return null;
        },
      );
      if (result) return result.status;
    }
    if (d.status.name !== 'RUNNING') return sagas.getStatus(sagaId);
    const s = await sagas.getStatus(sagaId).catch(() => undefined);
    if (s?.state === 'FAILED') return s;
    if (Date.now() > deadline)
      throw new Error(`saga ${sagaId} did not settle in time (state ${s?.state ?? 'unknown'})`);
    await sleep(s !== undefined && TERMINAL_STATES.includes(s.state) ? 50 : 200);
  }
}

async function terminateIfRunning(temporal: Client, workflowId: string): Promise<void> {
  try {
    const h = temporal.workflow.getHandle(workflowId);
    if ((await h.describe()).status.name === 'RUNNING')
      await h.terminate('polysaga verify: run did not finish');
  } catch {
    // not found or already closed
  }
}

/**
 * Runs the consistency check of `definition` (parsed JSON) against the configured servers.
 * @throws InvalidDefinitionError when the definition is invalid; connection errors when a server
 *   cannot be reached. Residue is not an error: it is reported in the rows (`ok: false`).
 */
/**
 * The activities of the verify worker: `executeStep` fails the planned step of a run with
 * `polysaga.InjectedFailure`, and `compensateStep` pretends to undo the steps of
 * `breakCompensations` (a test hook). Runs not in `plans` pass through.
 */
function injectFaults(
  plans: ReadonlyMap<string, RunPlan>,
  broken: ReadonlySet<string>,
): (acts: SagaActivities) => SagaActivities {
  return (acts) => ({
    ...acts,
    async executeStep(input) {
      const plan = plans.get(input.sagaId);
      if (plan && plan.failStep === input.stepId) {
        throw ApplicationFailure.nonRetryable(
          `polysaga verify: injected failure at step ${input.stepId} (position ${plan.position})`,
          FailureTypes.InjectedFailure,
        );
      }
      return acts.executeStep(input);
    },
    async compensateStep(input) {
      if (plans.has(input.sagaId) && broken.has(input.stepId)) {
        return {
          outcome: 'undone',
          detail: { verify: 'compensation disabled by breakCompensations (test hook)' },
        };
      }
      return acts.compensateStep(input);
    },
  });
}

/** What one position's run needs: the verify worker's clients and the run plans. */
interface PositionContext {
  definition: unknown;
  tokens: ReturnType<typeof rewriteTokens>;
  original: NormalizedDefinition;
  catalog: Catalog;
  config: Config;
  /** The snapshot of each backend that has one. */
  snapshots: BackendSnapshots;
  /** Their readers, open for the whole verify run. */
  readers: SnapshotReaders;
  plans: Map<string, RunPlan>;
  temporal: Client;
  sagas: SagaClient;
  runTimeoutMs: number;
  log: (line: string) => void;
}

/**
 * Runs the saga once with an injected failure at step `k` (or none at `k = n`, then undoes the
 * committed saga), snapshots its targets before and after, and reports the residue.
 */
async function runPosition(k: number, ctx: PositionContext): Promise<VerifyRow> {
  const { definition, tokens, original, catalog, config, snapshots, readers, plans, temporal, sagas } = ctx;
  const { runTimeoutMs, log } = ctx;
  const n = original.steps.length;
  const started = Date.now();
  const failStep = k < n ? original.steps[k]!.id : null;
  const expectedState = k < n ? 'ROLLED_BACK' : 'COMMITTED → ROLLED_BACK';
  const run = instantiateRun(definition, runTag(k), tokens);
  const row: VerifyRow = {
    position: k,
    failedStep: failStep,
    sagaId: run.sagaId,
    expectedState,
    state: '',
    targets: 0,
    residue: [],
    durationMs: 0,
    ok: false,
  };
  const failing = k < n ? original.steps[k]! : undefined;
  if (failing && failing.kind === 'retriable') {
    row.skipped = `step ${failing.id} is retriable (after the pivot): it is retried until it succeeds, never rolled back`;
    row.state = 'skipped';
    row.ok = true;
    log(`position ${k}: skipped (${row.skipped})`);
    return row;
  }
  let targets: Target[] = [];
  let before: Snapshot | undefined;
  try {
    const def: NormalizedDefinition = assertValidDefinition(run.definition, catalog);
    const plan = deriveTargets(def, catalog, { defaultBucket: config.s3.bucket, snapshots });
    // Effects of steps that are never compensated (pivot, retriable) are not compared.
    targets = plan.targets.filter((t) => t.compensatable);
    row.targets = targets.length;
    const initial = await takeSnapshot(readers, targets);
    before = initial;
    plans.set(run.sagaId, { failStep, position: k });
    const deadline = Date.now() + runTimeoutMs;
    await sagas.createSaga(run.definition);
    let status = await waitSettled(temporal, sagas, run.sagaId, deadline);
    const states = [status.state];
    if (k === n && status.state === 'COMMITTED') {
      const atCommit = await takeSnapshot(readers, targets);
      row.unobserved = targets
        .filter((t) => t.forward && initial.get(t.id) === atCommit.get(t.id))
        .map((t) => t.id);
      await sagas.compensateSaga(run.sagaId);
      status = await waitSettled(temporal, sagas, run.sagaId, deadline);
      states.push(status.state);
    }
    row.state = states.join(' → ');
    if (k < n && status.failedAt !== failStep) {
      // The rollback was not caused by the injected failure: an earlier step really failed.
      row.error = `step ${status.failedAt ?? '?'} failed before the injected failure: ${status.error ?? ''}`;
    } else if (row.state !== expectedState && status.state !== 'FAILED') {
      row.error = `saga ${status.state}${status.failedAt ? ` at ${status.failedAt}` : ''}: ${status.error ?? ''}`;
    }
    if (status.state === 'FAILED') {
      row.error = `saga ended FAILED: ${status.failures.map((f) => `${f.phase} ${f.stepId}: ${f.error}`).join('; ') || status.error || ''}`;
      await sagas
        .resolveSaga(run.sagaId, 'polysaga verify: residue recorded, closing', 'polysaga verify')
        .catch(() => undefined);
    }
    const after = await takeSnapshot(readers, targets);
    row.residue = diff(targets, initial, after);
  } catch (err) {
    row.error = (err as Error).message.split('\n')[0] ?? String(err);
    if (row.state === '') row.state = 'ERROR';
    // Nothing polls the private task queue after verify: do not leave the saga (or its
    // identity lock) running forever.
    await terminateIfRunning(temporal, run.sagaId);
    const key = run.definition.identityKey;
    if (typeof key === 'string') await terminateIfRunning(temporal, lockWorkflowId(key));
    // Whatever the interrupted run left behind is residue too.
    if (before !== undefined) {
      const snap = before;
      await takeSnapshot(readers, targets)
        .then((after) => (row.residue = diff(targets, snap, after)))
        .catch(() => undefined);
    }
  } finally {
    plans.delete(run.sagaId);
  }
  row.durationMs = Date.now() - started;
  row.ok = row.error === undefined && row.state === expectedState && row.residue.length === 0;
  log(
    `position ${k}: ${row.state}, ${row.residue.length === 0 ? 'no residue' : `${row.residue.length} residue`}` +
      (row.error ? ` (${row.error})` : ''),
  );
  return row;
}

export async function verifyDefinition(
  definition: unknown,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const log = options.log ?? (() => undefined);
  const definitions = [
    ...(options.backendDefinitions ?? []),
    ...(options.plugins ?? []).flatMap((p) => p.backends),
  ];
  // The built-in catalog, the defined backends' catalogs and the registered compensations.
  const catalog = options.catalog ?? mergedCatalog(definitions);
  const baseConfig = options.config ?? loadConfig();
  const tokens = rewriteTokens(definition, options.rewrite ?? []);
  // Validate the definition itself and one instantiation (the rewrite must keep it valid).
  const original = assertValidDefinition(definition, catalog, { generateId: () => 'verify-template' });
  const probe = assertValidDefinition(instantiateRun(definition, 'v0-000000', tokens).definition, catalog);
  const n = original.steps.length;
  const positions = (options.positions ?? Array.from({ length: n + 1 }, (_, k) => k)).filter(
    (k) => k >= 0 && k <= n,
  );
  const broken = new Set(options.breakCompensations ?? []);
  for (const id of broken) {
    if (!original.steps.some((s) => s.id === id))
      throw new Error(`breakCompensations: no step ${JSON.stringify(id)}`);
  }
  const taskQueue = options.taskQueue ?? `polysaga-verify-${randomBytes(4).toString('hex')}`;
  const runTimeoutMs = options.runTimeoutMs ?? 120_000;
  const tuning: ActivityTuning | undefined =
    options.tuning === false
      ? undefined
      : (options.tuning ?? { retryInterval: '200ms', compensationAttempts: 3 });

  const plans = new Map<string, RunPlan>();
  const wrapActivities = injectFaults(plans, broken);

  let services: StartedServices | undefined;
  let worker: SagaWorker | undefined;
  let running: Promise<void> | undefined;
  let connection: Connection | undefined;
  const rows: VerifyRow[] = [];
  let unchecked: string[] | undefined;
  let readers: SnapshotReaders | undefined;
  try {
    services = await startExampleServices(probe, baseConfig);
    const config = services.config;
    if (services.started.length > 0)
      log(`started example HTTP services in-process: ${services.started.join(', ')}`);
    worker = await createSagaWorker({
      config,
      taskQueue,
      wrapActivities,
      ...(options.catalog ? { catalog: options.catalog } : {}),
      ...(options.backends ? { backends: options.backends } : {}),
      ...(definitions.length > 0 ? { backendDefinitions: definitions } : {}),
      ...(options.registerCompensations ? { registerCompensations: options.registerCompensations } : {}),
    });
    running = worker.run();
    if (options.setup?.length) await runSetup(worker, options.setup);
    connection = await Connection.connect(temporalConnectionOptions(config));
    const temporal = new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: createDataConverter({
        store: worker.resources.blobs,
        thresholdBytes: config.payloads.thresholdBytes,
        keys: config.codec.keys,
      }),
    });
    const sagas = new SagaClient({
      client: temporal,
      taskQueue,
      catalog,
      origin: 'verify',
      ...(tuning ? { tuning } : {}),
    });
    // Each backend's snapshot comes from its definition: the built-ins', those of backendDefinitions and of plugins.
    const snapshots = snapshotsOf([...builtinBackends, ...definitions]);
    const probePlan = deriveTargets(probe, catalog, { defaultBucket: config.s3.bucket, snapshots });
    unchecked = probePlan.unchecked;
    readers = await openSnapshotReaders(snapshots, probePlan.targets, {
      adapters: worker.resources.adapters,
      config,
    });

    const ctx: PositionContext = {
      definition,
      tokens,
      original,
      catalog,
      config,
      snapshots,
      readers,
      plans,
      temporal,
      sagas,
      runTimeoutMs,
      log,
    };
    for (const k of positions) rows.push(await runPosition(k, ctx));
  } finally {
    await readers?.close();
    await connection?.close().catch(() => undefined);
    if (worker) await worker.shutdown().catch(() => undefined);
    await running?.catch(() => undefined);
    await services?.close();
  }
  return {
    name: original.name,
    steps: original.steps.map((s) => s.id),
    taskQueue,
    rewriteTokens: tokens,
    startedServices: services?.started ?? [],
    unchecked: unchecked ?? [],
    rows,
    ok: rows.length > 0 && rows.every((r) => r.ok),
  };
}
