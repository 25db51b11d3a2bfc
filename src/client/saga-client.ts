/**
 * SagaClient: starts sagas, reads their status and talks to running ones (abort, retry, resolve, undo).
 *
 * Validates definitions before anything starts, takes the identity lock (src/client/identity-lock.ts,
 * a lock-holder workflow per key), starts `sagaWorkflow` with the saga id as workflow
 * id, and talks to running sagas through their query, signal and updates.
 */
import { activeTraceId } from '../observability/trace-context.js';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from '../config/index.js';
import type { ActivityTuning } from '../saga/activity-options.js';
import type { Catalog } from '../saga/catalog.js';
import type { PluginBackends } from '../plugins/catalog.js';
import type { SagaState } from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';
import {
  IdentityKeyKey,
  SagaNameKey,
  SagaOriginKey,
  SagaStateKey,
  TraceIdKey,
} from '../saga/search-attributes.js';
import type { SagaResult, SagaStatus, SagaWorkflowInput, StepStatus, StuckInfo } from '../saga/status.js';
import { assertValidDefinition, type DefinitionLimits, type ValidateOptions } from '../saga/validate.js';
import type { StoreGuard } from '../saga/guard.js';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { abortRefusal, failedPhase, operatorRefusal, SAGA_STATE_FAILURE_TYPE } from '../saga/operator.js';
import {
  abortUpdate,
  resolveUpdate,
  retryCompensationUpdate,
  statusQuery,
} from '../workflows/definitions.js';
import { uploadBodyFiles } from './body-files.js';
import { IdentityLocks } from './identity-lock.js';
import {
  IdentityLockedError,
  InvalidDefinitionError,
  SagaAlreadyExistsError,
  SagaNotFoundError,
  SagaStateError,
  SagaStuckError,
} from './errors.js';
import { detectStuck } from './stuck.js';
import {
  assertScope,
  belongsToScope,
  scopedKey,
  scopedSagaId,
  scopeDefinition,
  scopePrefix,
  SCOPE_MARKER,
  unscopedSagaId,
} from '../saga/scope.js';
import { sagaResultFromFailure } from '../saga/outcome.js';

/**
 * The result of a saga's workflow run: what it completed with, or, for a rolled-back saga, the
 * result its `polysaga.SagaRolledBack` failure carries (src/saga/outcome.ts). Other failures
 * (terminated, a bug) are thrown as they are.
 */
export async function sagaRunResult(handle: WorkflowHandle): Promise<SagaResult> {
  try {
    return (await handle.result()) as SagaResult;
  } catch (err) {
    const rolledBack = sagaResultFromFailure(err);
    if (rolledBack) return rolledBack;
    throw err;
  }
}

/** Whether a closed run's description may hold a saga result (completed, or failed as rolled back). */
function mayHoldResult(d: WorkflowExecutionDescription): boolean {
  return d.status.name === 'COMPLETED' || d.status.name === 'FAILED';
}

/** Workflow type of the generic saga workflow (stored in histories). */
export const SAGA_WORKFLOW_TYPE = 'sagaWorkflow';
export { IDENTITY_LOCK_WORKFLOW_TYPE } from './identity-lock.js';

/** Options of {@link SagaClient}. */
export interface SagaClientOptions {
  /** A connected `@temporalio/client` Client. */
  client: Client;
  /** Task queue of the polysaga workers. */
  taskQueue: string;
  /**
   * Operation catalog for validation. Default: the built-in catalog plus the backends of
   * `plugins` and every compensation registered with `registerCompensation` (read at each
   * validation, so a registration made after the client was created counts).
   */
  catalog?: Catalog;
  /** Plugins (`loadPlugins` of src/plugins) whose backends the default catalog adds: the worker's list. */
  plugins?: readonly PluginBackends[];
  /** Test-only: shrink retry intervals of started sagas. */
  tuning?: ActivityTuning;
  /** A lock whose holder saga does not exist after this long is considered orphaned (default 60 s). */
  orphanedLockAfterMs?: number;
  /** Definition limits (default `DEFAULT_DEFINITION_LIMITS` of src/saga/validate.ts), field by field. */
  limits?: Partial<DefinitionLimits>;
  /**
   * polysaga's own prefixes and the allowlists per backend (`storeGuard(loadConfig())` of
   * src/config); polysaga's own objects are refused even without it (src/saga/guard.ts).
   */
  guard?: Partial<StoreGuard>;
  /** How long {@link SagaClient.getStatus} waits for the status query before it looks for a cause (default 15 s). */
  statusQueryTimeoutMs?: number;
  /** Where `bodyFile`s of s3 steps are uploaded (default: `loadConfig().s3`, read when needed). */
  s3?: Config['s3'];
  /**
   * The configured secret values (`new SecretMasker(maskableSecrets(config).values)`): a
   * definition holding one is refused, naming the field (docs/security.md).
   */
  secrets?: ValidateOptions['secrets'];
  /**
   * Tags every saga this client starts as not production traffic (`verify`, `bench`): the
   * `SagaOrigin` search attribute and the SAGA_STARTED audit row carry it, and default
   * {@link SagaClient.listSagas} results and the SQL metrics views leave such sagas out.
   */
  origin?: string;
  /**
   * The scope of `PROJECT_PREFIX` and `ENV` (`loadConfig().scope`, src/saga/scope.ts); default
   * `''`, the unscoped names. In a scope the client starts saga `x` as workflow `@<scope>/x`
   * (identity key and idempotency keys likewise), finds it again by `x`, and lists only its own
   * scope's sagas; everything it returns names sagas by the id their user gave.
   */
  scope?: string;
}

/** What {@link SagaClient.terminateSaga} did. */
export interface TerminatedSaga {
  sagaId: string;
  runId: string;
  /** Set when the saga's workflow task was failing. */
  stuck: StuckInfo | null;
  /** The saga's identity key, if it has one. */
  identityKey: string | null;
  /** Whether this call released the identity lock (false: no key, or held by another saga). */
  lockReleased: boolean;
}

/** What {@link SagaClient.startRetry} started: an operator retry round of a FAILED saga. */
export interface StartedRetry {
  sagaId: string;
  /** What is run again: the failed compensations (newest first), or the failed forward step after the pivot. */
  phase: 'compensation' | 'step';
  /** The step ids whose compensations (phase `compensation`) or whose step (phase `step`) run again. */
  stepIds: string[];
  /** The status before the retry (state FAILED). */
  before: SagaStatus;
  /** The status right after the retry was accepted (COMPENSATING or EXECUTING, unless the round already ended). */
  status: SagaStatus;
  /** Resolves with the status when the retry round ends (ROLLED_BACK, FAILED again, or EXECUTING on after a step retry). */
  result(): Promise<SagaStatus>;
}

/** A started saga. */
export interface StartedSaga {
  sagaId: string;
  runId: string;
  /** Resolves when the run closes (COMMITTED, ROLLED_BACK or RESOLVED). */
  result(): Promise<SagaResult>;
}

/** Filter of {@link SagaClient.listSagas}. */
export interface ListSagasFilter {
  state?: SagaState;
  name?: string;
  identityKey?: string;
  traceId?: string;
  /** Default 100. */
  limit?: number;
  /** Include sagas tagged with an origin (`verify`, `bench`): left out by default. */
  all?: boolean;
}

/** One row of {@link SagaClient.listSagas}. */
export interface SagaSummary {
  /** The saga id as its user gave it (without the scope). */
  sagaId: string;
  /** The Temporal workflow id: the saga id, in a scope `@<scope>/<sagaId>` (what the Web UI shows). */
  workflowId: string;
  runId: string;
  name: string | null;
  state: SagaState | null;
  traceId: string | null;
  identityKey: string | null;
  workflowType: string;
  /** `verify`, `bench`, … for sagas that are not production traffic; null for real sagas. */
  origin: string | null;
  /** Temporal's execution status (RUNNING, COMPLETED, …). */
  executionStatus: string;
  startTime: Date;
  closeTime: Date | null;
}

/**
 * The server's reason when it refused a request as too large (blob size limit, gRPC message
 * size), found anywhere in the cause chain; null otherwise.
 */
function tooLargeForServer(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const m = /Blob data size exceeds limit|received message larger than max[^.]*|exceeds size limit/i.exec(
      e.message,
    );
    if (m) return m[0];
  }
  return null;
}

/** A refused operator update as a {@link SagaStateError} naming the saga state the validator saw. */
function refusalError(sagaId: string, err: WorkflowUpdateFailedError): SagaStateError {
  const cause = err.cause;
  let state = 'unknown';
  if (cause instanceof ApplicationFailure && cause.type === SAGA_STATE_FAILURE_TYPE) {
    const detail = cause.details?.[0] as { state?: unknown } | undefined;
    if (typeof detail?.state === 'string') state = detail.state;
  }
  const message = cause instanceof Error ? cause.message : err.message;
  return new SagaStateError(sagaId, state, message, { cause: err });
}

/** What the Web UI shows of a saga run before it starts: summary, details (Markdown), memo. */
interface RunMetadata {
  summary: string;
  details: string;
  memo: Record<string, unknown>;
}

/**
 * A definition saga's Web UI metadata: `saga <name>: N steps (backends)` and a step list.
 * Names, ids, backends and operations only: payloads stay out (the metadata is encrypted like
 * any payload, but it is shown wherever the codec server answers).
 */
export function definitionMetadata(input: SagaWorkflowInput): RunMetadata {
  const def = input.definition;
  const backends = [...new Set(def.steps.map((s) => s.backend))].join(', ');
  const n = def.steps.length;
  const summary = input.undo
    ? `undo saga ${def.name}: ${input.undo.stack.length} compensations (${backends})`
    : `saga ${def.name}: ${n} step${n === 1 ? '' : 's'} (${backends})`;
  // A list, not a table: the Web UI renders Markdown tables without cell spacing.
  const rows = def.steps.map((s, i) => {
    const undo =
      s.compensation === null
        ? 'not undone'
        : `undo \`${
            typeof s.compensation === 'string'
              ? s.compensation
              : `${s.compensation.backend ?? s.backend}.${s.compensation.operation}`
          }\``;
    return `${i + 1}. \`${s.id}\`: ${s.backend}.${s.operation}${s.kind === 'compensatable' ? '' : ` (${s.kind})`}, ${undo}`;
  });
  const details = [
    input.undo
      ? `Undo of committed saga \`${def.sagaId}\` (run ${input.undo.previousRunId}), newest step first.`
      : `Saga \`${def.name}\` (\`${def.sagaId}\`), trace ${def.traceId}${def.identityKey ? `, identity ${def.identityKey}` : ''}, ${def.compensation.mode} compensation.`,
    '',
    ...rows,
  ].join('\n');
  return {
    summary,
    details,
    memo: { sagaName: def.name, totalSteps: n, ...(input.undo ? { undo: true } : {}) },
  };
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The saga client. All methods throw the typed errors of `./errors.ts`:
 * {@link SagaNotFoundError}, {@link IdentityLockedError}, `InvalidDefinitionError`,
 * {@link SagaAlreadyExistsError}, {@link SagaStateError}.
 */
export class SagaClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly catalog: Catalog | undefined;
  private readonly plugins: readonly PluginBackends[];
  private readonly tuning: ActivityTuning | undefined;
  private readonly locks: IdentityLocks;
  private readonly limits: Partial<DefinitionLimits> | undefined;
  private readonly guard: Partial<StoreGuard> | undefined;
  private readonly statusQueryTimeoutMs: number;
  private readonly s3: Config['s3'] | undefined;
  private readonly secrets: ValidateOptions['secrets'];
  private readonly origin: string | undefined;
  private readonly scope: string;

  constructor(options: SagaClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue;
    this.catalog = options.catalog;
    this.plugins = options.plugins ?? [];
    this.tuning = options.tuning;
    this.locks = new IdentityLocks(options.client, options.taskQueue, options.orphanedLockAfterMs ?? 60_000);
    this.limits = options.limits;
    this.guard = options.guard;
    // Longer than a worker's sticky schedule-to-start timeout (10 s): after a worker dies, a query
    // waits that long before Temporal hands it to another worker.
    this.statusQueryTimeoutMs = options.statusQueryTimeoutMs ?? 15_000;
    this.s3 = options.s3;
    this.secrets = options.secrets;
    this.origin = options.origin;
    this.scope = assertScope(options.scope ?? '');
  }

  /**
   * The Temporal workflow id of a saga: the saga id in the default scope, `@<scope>/<sagaId>`
   * in a scope. An id already scoped (of this scope) is returned as it is.
   * @throws ScopeError for an id of another scope.
   */
  workflowIdOf(sagaId: string): string {
    return scopedSagaId(this.scope, sagaId);
  }

  /** A status as its user knows the saga: saga id and identity key without the scope. */
  private userStatus(s: SagaStatus): SagaStatus {
    if (this.scope === '') return s;
    return {
      ...s,
      sagaId: unscopedSagaId(this.scope, s.sagaId),
      identityKey: s.identityKey === null ? null : unscopedSagaId(this.scope, s.identityKey),
    };
  }

  /** A run's result with its status as its user knows the saga (the definition stays as the workflow ran it). */
  private userResult(r: SagaResult): SagaResult {
    return this.scope === '' ? r : { ...r, status: this.userStatus(r.status) };
  }

  private async getCatalog(): Promise<Catalog> {
    if (this.catalog) return this.catalog;
    // Loaded on first use so that importing the client stays cheap.
    const { catalogWithPlugins } = await import('../plugins/catalog.js');
    return catalogWithPlugins(this.plugins);
  }

  /**
   * Validates a definition (parsed JSON) and returns it normalized (saga id, trace id,
   * idempotency keys and compensations filled in). Checks the client's definition limits and
   * store guard (no step may touch polysaga's own objects or leave the allowlists).
   * @throws InvalidDefinitionError naming the step and field (or the limit) of every problem.
   */
  async validate(definition: unknown, options: ValidateOptions = {}): Promise<NormalizedDefinition> {
    return assertValidDefinition(definition, await this.getCatalog(), {
      generateId: () => `${(definition as { name?: string }).name ?? 'saga'}-${crypto.randomUUID()}`,
      // In a traced caller the saga's traceId is the caller's trace id (docs/observability.md).
      generateTraceId: () => activeTraceId() ?? crypto.randomUUID(),
      ...(this.limits ? { limits: this.limits } : {}),
      ...(this.guard ? { guard: this.guard } : {}),
      ...(this.secrets ? { secrets: this.secrets } : {}),
      ...options,
    });
  }

  /**
   * Validates and starts a saga; returns as soon as it runs.
   * Side effects: uploads the `bodyFile`s of s3 steps (streamed, see `uploadBodyFiles`), starts the
   * identity lock workflow (when `identityKey` is set) and the saga workflow.
   * @throws InvalidDefinitionError, IdentityLockedError (naming the holder), SagaAlreadyExistsError.
   */
  async createSaga(definition: unknown): Promise<StartedSaga> {
    // In a scope, saga id, identity key and idempotency keys get the prefix `@<scope>/`.
    const def = scopeDefinition(this.scope, await this.validate(definition));
    // Local `bodyFile`s of s3 steps are uploaded first and become `source` (src/client/body-files.ts).
    const files = await uploadBodyFiles(def, this.s3);
    try {
      return await this.start(
        {
          definition: files.definition,
          ...(this.tuning ? { tuning: this.tuning } : {}),
          ...(this.origin !== undefined ? { origin: this.origin } : {}),
        },
        'REJECT_DUPLICATE',
      );
    } catch (err) {
      await files.discard();
      throw err;
    }
  }

  /** Starts a saga and waits until it closes (a FAILED saga stays open: this waits for the operator). */
  async executeSaga(definition: unknown): Promise<SagaResult> {
    const started = await this.createSaga(definition);
    return started.result();
  }

  private start(
    input: SagaWorkflowInput,
    reuse: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE',
  ): Promise<StartedSaga> {
    const def = input.definition;
    return this.startRun(
      SAGA_WORKFLOW_TYPE,
      {
        sagaId: def.sagaId,
        name: def.name,
        traceId: def.traceId,
        identityKey: def.identityKey,
        state: input.undo ? 'COMMITTED' : 'PENDING',
        metadata: definitionMetadata(input),
      },
      [input],
      reuse,
    );
  }

  /**
   * Starts a typed saga (a workflow written with `runTypedSaga`, e.g. `documentIngestSaga`)
   * with the same identity lock and search attributes as a definition saga. `identityKey`
   * and `traceId` must match what the typed saga declares.
   * @throws IdentityLockedError, SagaAlreadyExistsError
   */
  startTypedSaga(
    workflowType: string,
    options: { sagaId: string; name: string; args: unknown[]; identityKey?: string | null; traceId?: string },
  ): Promise<StartedSaga> {
    // The typed saga's own code declares the identity key and releases its lock; in a scope it
    // prefixes the key from its workflow id (runTypedSaga), as the client does here.
    const workflowId = this.workflowIdOf(options.sagaId);
    return this.startRun(
      workflowType,
      {
        sagaId: workflowId,
        name: options.name,
        traceId: options.traceId ?? workflowId,
        identityKey: options.identityKey == null ? null : scopedKey(this.scope, options.identityKey),
        state: 'PENDING',
        metadata: {
          summary: `saga ${options.name} (typed saga ${workflowType})`,
          details: `Typed saga \`${options.name}\` (workflow type \`${workflowType}\`): its steps are listed by \`polysaga status ${options.sagaId}\`.`,
          memo: { sagaName: options.name, typed: workflowType },
        },
      },
      options.args,
      'REJECT_DUPLICATE',
    );
  }

  private async startRun(
    workflowType: string,
    saga: {
      sagaId: string;
      name: string;
      traceId: string;
      identityKey: string | null;
      state: SagaState;
      /** Web UI summary and details (user metadata) and memo. */
      metadata: RunMetadata;
    },
    args: unknown[],
    reuse: 'REJECT_DUPLICATE' | 'ALLOW_DUPLICATE',
  ): Promise<StartedSaga> {
    let lockRunId: string | null = null;
    if (saga.identityKey !== null) {
      try {
        lockRunId = await this.locks.acquire(saga.identityKey, saga.sagaId);
      } catch (err) {
        // Named as their users know them: key and holder without the scope.
        if (!(err instanceof IdentityLockedError) || this.scope === '') throw err;
        throw new IdentityLockedError(
          unscopedSagaId(this.scope, err.identityKey),
          unscopedSagaId(this.scope, err.holderSagaId),
          { cause: err },
        );
      }
    }
    let runId: string;
    try {
      const handle = await this.client.workflow.start(workflowType, {
        workflowId: saga.sagaId,
        taskQueue: this.taskQueue,
        args,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: reuse,
        staticSummary: saga.metadata.summary,
        staticDetails: saga.metadata.details,
        memo: saga.metadata.memo,
        typedSearchAttributes: [
          { key: SagaNameKey, value: saga.name },
          { key: SagaStateKey, value: saga.state },
          { key: TraceIdKey, value: saga.traceId },
          ...(saga.identityKey !== null ? [{ key: IdentityKeyKey, value: saga.identityKey }] : []),
          ...(this.origin !== undefined ? [{ key: SagaOriginKey, value: this.origin }] : []),
        ],
      });
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (lockRunId !== null && saga.identityKey !== null) {
        await this.locks.abandon(saga.identityKey, lockRunId);
      }
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new SagaAlreadyExistsError(unscopedSagaId(this.scope, saga.sagaId), { cause: err });
      const tooLarge = tooLargeForServer(err);
      if (tooLarge !== null) {
        throw new InvalidDefinitionError(
          [
            {
              field: '(root)',
              message:
                `Temporal refused the saga's input as too large (${tooLarge}): the server's blob size limit ` +
                `(2 MiB by default) is below polysaga's limits; shrink the payloads or let a payload codec ` +
                `store large payloads out of band`,
            },
          ],
          { cause: err },
        );
      }
      throw err;
    }
    return {
      sagaId: unscopedSagaId(this.scope, saga.sagaId),
      runId,
      result: async () =>
        this.userResult(await sagaRunResult(this.client.workflow.getHandle(saga.sagaId, runId))),
    };
  }

  private async describe(sagaId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.client.workflow.getHandle(this.workflowIdOf(sagaId)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new SagaNotFoundError(sagaId, { cause: err });
      throw err;
    }
  }

  /**
   * The saga's status: from the status query while it runs, from its result once closed.
   *
   * A running saga whose workflow task keeps failing answers no query: then (or when the
   * query fails or does not answer within `statusQueryTimeoutMs`) the status is rebuilt from
   * what Temporal knows (search attributes, the definition it started with) and carries
   * `stuck` naming the cause (docs/states.md, "Stuck sagas").
   * @throws SagaNotFoundError; the query's error when the saga is not stuck (e.g. no worker polls).
   */
  async getStatus(sagaId: string): Promise<SagaStatus> {
    return this.userStatus(await this.readStatus(sagaId));
  }

  private async readStatus(sagaId: string): Promise<SagaStatus> {
    const d = await this.describe(sagaId);
    const handle = this.client.workflow.getHandle(d.workflowId, d.runId);
    if (d.status.name === 'RUNNING') {
      const stuck = await detectStuck(this.client, d);
      if (stuck) return this.statusFromDescription(d, stuck);
      try {
        return await this.client.withDeadline(Date.now() + this.statusQueryTimeoutMs, () =>
          handle.query(statusQuery),
        );
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new SagaNotFoundError(sagaId, { cause: err });
        const again = await this.describe(sagaId);
        if (again.runId !== d.runId || again.status.name !== 'RUNNING') return this.readStatus(sagaId);
        const stuckNow = await detectStuck(this.client, again);
        if (stuckNow) return this.statusFromDescription(again, stuckNow);
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(
          `saga ${sagaId} did not answer its status query within ${this.statusQueryTimeoutMs} ms (${message}); ` +
            `is a worker polling task queue ${again.taskQueue}?`,
          { cause: err },
        );
      }
    }
    if (d.status.name === 'COMPLETED') return (await sagaRunResult(handle)).status;
    if (d.status.name === 'FAILED') {
      // A rolled-back saga fails its workflow with its result; any other failure is a bug.
      const rolledBack = await sagaRunResult(handle).catch(() => null);
      if (rolledBack) return rolledBack.status;
    }
    // Terminated, timed out or failed by a bug: what the search attributes say.
    return this.statusFromDescription(d, null);
  }

  /**
   * A status built without the workflow's help: search attributes, plus the steps of the
   * definition the saga started with (read from its first history event) when it is stuck.
   */
  private async statusFromDescription(
    d: WorkflowExecutionDescription,
    stuck: StuckInfo | null,
  ): Promise<SagaStatus> {
    const sa = d.typedSearchAttributes;
    const steps = stuck ? await this.plannedSteps(d) : [];
    return {
      sagaId: d.workflowId,
      name: sa.get(SagaNameKey) ?? d.type,
      state: (sa.get(SagaStateKey) as SagaState | undefined) ?? (stuck ? 'PENDING' : 'FAILED'),
      totalSteps: steps.length,
      completedSteps: 0,
      failedAt: null,
      error: stuck
        ? `stuck: its workflow task fails (${stuck.cause}): ${stuck.message}`
        : `workflow ${d.status.name.toLowerCase()}`,
      steps,
      compensationStack: [],
      compensationMode: 'sequential',
      traceId: sa.get(TraceIdKey) ?? '',
      identityKey: sa.get(IdentityKeyKey) ?? null,
      abortRequested: false,
      failures: [],
      resolution: null,
      ...(stuck ? { stuck } : {}),
    };
  }

  /** The steps of the definition a `sagaWorkflow` run started with (state PENDING: unknown). */
  private async plannedSteps(d: WorkflowExecutionDescription): Promise<StepStatus[]> {
    if (d.type !== SAGA_WORKFLOW_TYPE) return [];
    try {
      const res = await this.client.workflowService.getWorkflowExecutionHistory({
        namespace: this.client.options.namespace,
        execution: { workflowId: d.workflowId, runId: d.runId },
        maximumPageSize: 1,
      });
      const started = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
      const [input] = (await decodeArrayFromPayloads(
        this.client.options.loadedDataConverter,
        started?.input?.payloads,
      )) as [SagaWorkflowInput | undefined];
      return (input?.undo?.steps ?? input?.definition.steps ?? []).map((st) => ({
        id: st.id,
        backend: st.backend,
        operation: st.operation,
        kind: st.kind,
        state: 'PENDING',
        attempts: 0,
        startedAt: null,
        finishedAt: null,
        error: null,
      }));
    } catch {
      // Only a nicety: the stuck report does not depend on it.
      return [];
    }
  }

  /** Waits until the saga's current run closes and returns its result. */
  async waitForResult(sagaId: string): Promise<SagaResult> {
    const d = await this.describe(sagaId);
    return this.userResult(await sagaRunResult(this.client.workflow.getHandle(d.workflowId, d.runId)));
  }

  /**
   * Aborts a running saga: before the pivot it compensates (a step that is retrying is cancelled
   * at once), after the pivot it completes forward (docs/states.md). Cancelling the workflow has
   * the same effect. Returns the status when the saga accepted the abort (`abortRequested: true`);
   * the unwind goes on in the background.
   * @throws SagaNotFoundError; SagaStateError when the saga is not PENDING or EXECUTING (FAILED,
   *   COMPENSATING, COMMITTED, ROLLED_BACK, RESOLVED): its message names the state and the
   *   command that fits (`retry`/`resolve`, `compensate`, …); SagaStuckError (its workflow task
   *   keeps failing: see {@link terminateSaga})
   */
  async abortSaga(sagaId: string, reason = 'aborted by client'): Promise<SagaStatus> {
    const d = await this.describe(sagaId);
    if (d.status.name !== 'RUNNING') {
      const state = await this.closedState(d);
      throw new SagaStateError(
        sagaId,
        state.state,
        state.message ?? abortRefusal(sagaId, state.state, { running: false }) ?? `saga ${sagaId} has ended`,
      );
    }
    // A stuck workflow would take the request and never act on it: say so instead.
    const stuck = await detectStuck(this.client, d);
    if (stuck) throw new SagaStuckError(sagaId, stuck);
    // The update's validator refuses the abort in states where it means nothing (race-free).
    return this.userStatus(
      await this.update(sagaId, (h) => h.executeUpdate(abortUpdate, { args: [{ reason }] }), d),
    );
  }

  /**
   * The saga state of a closed run: from its result when it completed; for a run that was
   * terminated (or timed out, or failed by a bug) the last state its search attribute recorded,
   * with a message that says what to do.
   */
  private async closedState(
    d: WorkflowExecutionDescription,
  ): Promise<{ state: SagaState; message?: string }> {
    if (mayHoldResult(d)) {
      const result = await sagaRunResult(this.client.workflow.getHandle(d.workflowId, d.runId)).catch(
        (err: unknown) => {
          if (d.status.name === 'COMPLETED') throw err;
          return null; // failed by a bug, not rolled back: read like a terminated run
        },
      );
      if (result) return { state: result.status.state };
    }
    const state = (d.typedSearchAttributes.get(SagaStateKey) as SagaState | undefined) ?? 'PENDING';
    return {
      state,
      message:
        `saga ${d.workflowId} was stopped from outside in state ${state} (its workflow was ` +
        `${d.status.name.toLowerCase().replace(/_/g, ' ')}): run \`polysaga recover --saga-id ${d.workflowId}\` ` +
        `to undo its recorded steps`,
    };
  }

  /**
   * Last resort for a saga that cannot be aborted (stuck on a failing workflow task): terminates
   * its workflow run and releases its identity lock. Nothing is compensated here: the audit trail
   * stays open, and `polysaga recover` unwinds it once the grace time has passed (docs/recovery.md).
   * Works on any running saga; prefer {@link abortSaga} for a healthy one, which compensates itself.
   * Side effects: terminates the saga's workflow run (by run id) and, when this saga holds it,
   * the lock-holder workflow of its identity key.
   * @throws SagaNotFoundError, SagaStateError (the saga has closed)
   */
  async terminateSaga(sagaId: string, reason = 'terminated by operator'): Promise<TerminatedSaga> {
    const d = await this.describe(sagaId);
    if (d.status.name !== 'RUNNING') {
      const state = await this.closedState(d);
      throw new SagaStateError(
        sagaId,
        state.state,
        state.message ?? `saga ${sagaId} is ${state.state}: it has ended, so there is nothing to terminate`,
      );
    }
    const stuck = await detectStuck(this.client, d);
    await this.client.workflow.getHandle(d.workflowId, d.runId).terminate(reason);
    const identityKey = d.typedSearchAttributes.get(IdentityKeyKey) ?? null;
    const lockReleased =
      identityKey !== null && (await this.locks.release(identityKey, d.workflowId, reason));
    return {
      sagaId: unscopedSagaId(this.scope, d.workflowId),
      runId: d.runId,
      stuck,
      identityKey: identityKey === null ? null : unscopedSagaId(this.scope, identityKey),
      lockReleased,
    };
  }

  /**
   * Undoes a COMMITTED saga from its recorded compensation stack: starts a new run of
   * `sagaWorkflow` with the same workflow id (the saga id) that unwinds the committed run's
   * stack and continues its event seq. Takes the identity lock again while it runs.
   * @throws SagaNotFoundError, SagaStateError (not COMMITTED), IdentityLockedError
   */
  async compensateSaga(sagaId: string): Promise<StartedSaga> {
    const d = await this.describe(sagaId);
    if (d.status.name === 'RUNNING') {
      const s = await this.getStatus(sagaId);
      throw new SagaStateError(
        sagaId,
        s.state,
        `saga ${sagaId} is ${s.state}; only a COMMITTED saga can be compensated (abort a running one)`,
      );
    }
    if (d.status.name !== 'COMPLETED') {
      const state = await this.closedState(d);
      throw new SagaStateError(
        sagaId,
        state.state,
        state.message ?? `saga ${sagaId} is ${state.state}; only a COMMITTED saga can be compensated`,
      );
    }
    const committed = (await this.client.workflow.getHandle(d.workflowId, d.runId).result()) as SagaResult;
    if (committed.status.state !== 'COMMITTED') {
      throw new SagaStateError(
        sagaId,
        committed.status.state,
        `saga ${sagaId} is ${committed.status.state}; only a COMMITTED saga can be compensated`,
      );
    }
    return this.start(
      {
        definition: committed.definition,
        undo: {
          stack: committed.status.compensationStack,
          lastSeq: committed.lastSeq,
          previousRunId: d.runId,
          steps: committed.status.steps,
        },
        ...(this.tuning ? { tuning: this.tuning } : {}),
      },
      'ALLOW_DUPLICATE',
    );
  }

  /**
   * Sends an operator update to a running saga. A closed saga, a stuck one and a refusal of the
   * update's validator become {@link SagaStateError} / {@link SagaStuckError} whose message speaks
   * in saga states. `command` names the operator command for the closed-saga message.
   */
  private async update<R>(
    sagaId: string,
    run: (h: WorkflowHandle) => Promise<R>,
    described?: WorkflowExecutionDescription,
    command: 'retry' | 'resolve' = 'retry',
  ): Promise<R> {
    const d = described ?? (await this.describe(sagaId));
    if (d.status.name !== 'RUNNING') {
      const state = await this.closedState(d);
      throw new SagaStateError(
        sagaId,
        state.state,
        state.message ??
          operatorRefusal(sagaId, command, state.state, { running: false }) ??
          `saga ${sagaId} is ${state.state}`,
      );
    }
    // An update to a stuck workflow would wait for ever.
    if (!described) {
      const stuck = await detectStuck(this.client, d);
      if (stuck) throw new SagaStuckError(sagaId, stuck);
    }
    try {
      return await run(this.client.workflow.getHandle(d.workflowId, d.runId));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw refusalError(sagaId, err);
      if (err instanceof WorkflowNotFoundError) throw new SagaNotFoundError(sagaId, { cause: err });
      throw err;
    }
  }

  /**
   * Operator: re-runs the failed compensations of a FAILED saga (or its failed step after the
   * pivot). Returns the status after the retry round (ROLLED_BACK, or FAILED again).
   * @throws SagaNotFoundError, SagaStateError (not FAILED), SagaStuckError
   */
  async retryCompensation(sagaId: string): Promise<SagaStatus> {
    return this.userStatus(await this.update(sagaId, (h) => h.executeUpdate(retryCompensationUpdate)));
  }

  /**
   * Operator: starts a retry round of a FAILED saga and returns as soon as the saga accepted it,
   * with the status at that moment (COMPENSATING, or EXECUTING for a failed step after the
   * pivot) and what is being retried; `result()` waits for the end of the round (the same
   * status {@link retryCompensation} returns).
   * @throws SagaNotFoundError, SagaStateError (not FAILED; the message names the state), SagaStuckError
   */
  async startRetry(sagaId: string): Promise<StartedRetry> {
    return this.update(sagaId, async (h) => {
      const before = await h.query(statusQuery);
      const phase = failedPhase(before.failures);
      const updating = await h.startUpdate(retryCompensationUpdate, {
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      // The workflow task that accepted the update also began the round.
      const status = await h.query(statusQuery);
      return {
        sagaId: unscopedSagaId(this.scope, sagaId),
        phase,
        stepIds:
          phase === 'step'
            ? before.failedAt !== null
              ? [before.failedAt]
              : []
            : before.compensationStack.map((e) => e.stepId).reverse(),
        before: this.userStatus(before),
        status: this.userStatus(status),
        result: async () => {
          try {
            return this.userStatus(await updating.result());
          } catch (err) {
            if (err instanceof WorkflowUpdateFailedError) throw refusalError(sagaId, err);
            throw err;
          }
        },
      };
    });
  }

  /**
   * Operator: closes a FAILED saga as RESOLVED (fixed by hand); recorded with the reason.
   * Releases the identity lock.
   * @throws SagaNotFoundError, SagaStateError (not FAILED), SagaStuckError
   */
  async resolveSaga(sagaId: string, reason: string, by?: string): Promise<SagaStatus> {
    return this.userStatus(
      await this.update(
        sagaId,
        (h) => h.executeUpdate(resolveUpdate, { args: [{ reason, ...(by ? { by } : {}) }] }),
        undefined,
        'resolve',
      ),
    );
  }

  /** Whether `runId` is the latest run of `sagaId` (an older one was superseded by an undo run). */
  private async isLatestRun(sagaId: string, runId: string): Promise<boolean> {
    try {
      return (await this.client.workflow.getHandle(sagaId).describe()).runId === runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /**
   * Lists sagas (newest first) by state, name, identity key or trace id, from Temporal
   * visibility: only this client's scope (a `WorkflowId STARTS_WITH "@<scope>/"` clause; in the
   * default scope, workflow ids that do not start with `@`).
   */
  async listSagas(filter: ListSagasFilter = {}): Promise<SagaSummary[]> {
    const clauses = [`${SagaNameKey.name} IS NOT NULL`];
    if (filter.state) clauses.push(`${SagaStateKey.name} = ${quote(filter.state)}`);
    if (filter.name) clauses.push(`${SagaNameKey.name} = ${quote(filter.name)}`);
    if (filter.identityKey) {
      const scoped = scopedKey(this.scope, filter.identityKey);
      // A typed saga declares its identity key itself, unscoped: its workflow id says the scope.
      clauses.push(
        scoped === filter.identityKey
          ? `${IdentityKeyKey.name} = ${quote(filter.identityKey)}`
          : `(${IdentityKeyKey.name} = ${quote(scoped)} OR ${IdentityKeyKey.name} = ${quote(filter.identityKey)})`,
      );
    }
    if (filter.traceId) clauses.push(`${TraceIdKey.name} = ${quote(filter.traceId)}`);
    const scopeClause =
      this.scope === ''
        ? `NOT (WorkflowId STARTS_WITH ${quote(SCOPE_MARKER)})`
        : `WorkflowId STARTS_WITH ${quote(scopePrefix(this.scope))}`;
    const limit = filter.limit ?? 100;
    let byOrigin = !filter.all;
    let byScope = true;
    for (;;) {
      const where = [
        ...clauses,
        ...(byScope ? [scopeClause] : []),
        ...(byOrigin ? [`${SagaOriginKey.name} IS NULL`] : []),
      ];
      try {
        return await this.listWhere(where, filter, limit);
      } catch (err) {
        const message = err instanceof Error ? err.message : '';
        // A namespace without the SagaOrigin search attribute (registered before it existed):
        // nothing can be tagged there, so list without the clause.
        if (byOrigin && message.includes(SagaOriginKey.name)) byOrigin = false;
        // A visibility store without STARTS_WITH: list without the scope clause (rows of other
        // scopes are skipped one by one in listWhere).
        else if (byScope && /STARTS_WITH/i.test(message)) byScope = false;
        else throw err;
      }
    }
  }

  private async listWhere(clauses: string[], filter: ListSagasFilter, limit: number): Promise<SagaSummary[]> {
    const out: SagaSummary[] = [];
    const seen = new Set<string>();
    for await (const w of this.client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: Math.min(limit, 1000),
    })) {
      // One row per saga: an undone saga (`compensate`) has two runs under its id, the committed
      // one and the undo; only its latest run says its state.
      if (seen.has(w.workflowId) || !belongsToScope(this.scope, w.workflowId)) continue;
      seen.add(w.workflowId);
      if (filter.state && w.status.name !== 'RUNNING' && !(await this.isLatestRun(w.workflowId, w.runId)))
        continue;
      const sa = w.typedSearchAttributes;
      const identityKey = sa.get(IdentityKeyKey) ?? null;
      out.push({
        sagaId: unscopedSagaId(this.scope, w.workflowId),
        workflowId: w.workflowId,
        runId: w.runId,
        name: sa.get(SagaNameKey) ?? null,
        state: (sa.get(SagaStateKey) as SagaState | undefined) ?? null,
        traceId: sa.get(TraceIdKey) ?? null,
        identityKey: identityKey === null ? null : unscopedSagaId(this.scope, identityKey),
        workflowType: w.type,
        origin: sa.get(SagaOriginKey) ?? null,
        executionStatus: w.status.name,
        startTime: w.startTime,
        closeTime: w.closeTime ?? null,
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}
