/**
 * Composition root: configuration → clients → activities → Temporal Worker.
 *
 * The only place that builds every adapter. It owns the clients it creates and closes them
 * on shutdown. Applications build their own worker with {@link createSagaWorker}, optionally
 * registering their own compensations or custom backends.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type Logger,
  type WorkerOptions,
} from '@temporalio/worker';
import type pg from 'pg';
import type { Driver } from 'neo4j-driver';
import type { S3Client } from '@aws-sdk/client-s3';
import { createAuditActivities } from '../activities/audit.js';
import {
  createDataConverter,
  EncryptedBlobStore,
  EncryptionCodec,
  FAILURE_CONVERTER_PATH,
  PgBlobStore,
  resolveBeforeImage,
  withBeforeImagesOutOfBand,
  type BlobStore,
} from '../blobs/index.js';
import { createBuiltinBackends, type Backend } from '../backends/index.js';
import { createCompensationRegistry, type CompensationRegistry } from '../activities/compensations.js';
import { createStepActivities } from '../activities/steps.js';
import { withTransitions } from '../activities/transitions.js';
import { openAdapters, type Adapters, type RedisClient, type VectorEngine } from '../backends/connect.js';
import { temporalConnectionOptions, temporalUnreachable } from '../client/connect.js';
import { loadConfig, maskableSecrets, storeGuard, type Config } from '../config/index.js';
import { connectBackend, type BackendDefinition } from '../backends/define.js';
import { defineActions, type ActionMap, type ActionsDefinition } from '../backends/app/index.js';
import type { Catalog } from '../saga/catalog.js';
import type { LoadedPlugin } from '../plugins/load.js';
import { mergedCatalog } from '../plugins/catalog.js';
import { registeredCompensations } from '../plugins/registry.js';
import type { JsonObject, SagaActivities } from '../saga/contracts.js';
import { toActivityError } from '../backends/errors.js';
import { maskActivities, secretMaskerFor } from '../activities/secrets.js';
import { createEventStore } from '../audit/event-store.js';
import { sagaActivityInterceptors } from '../observability/interceptors.js';
import {
  SagaMetrics,
  serveMetrics,
  type MetricsServer,
  type TransitionObserver,
} from '../observability/metrics.js';
import {
  OTEL_WORKFLOW_INTERCEPTORS_PATH,
  setupTracing,
  workflowSpanSinks,
  type Tracing,
} from '../observability/tracing.js';

/** Path of the workflow entry point: the TypeScript source under tsx/vitest, the compiled one in dist/. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

/** Workflow-side interceptors (saga fields on log lines and spans), bundled with the workflows. */
export const WORKFLOW_INTERCEPTORS_PATH = fileURLToPath(
  new URL(`../workflows/interceptors.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url),
);

/**
 * The workflow bundles made by `npm run build` (scripts/build.mjs), two levels above
 * dist/src/workers: dist/workflow-bundle.js, and dist/workflow-bundle-encoded.js with the failure
 * converter that encodes failure messages (used when payloads are encrypted, see
 * {@link FAILURE_CONVERTER_PATH}). Run from src/ (tsx, vitest) there are none at that place.
 */
export const WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
export const ENCODED_WORKFLOW_BUNDLE_PATH = fileURLToPath(
  new URL('../../workflow-bundle-encoded.js', import.meta.url),
);

/**
 * A logger for the workflow bundler that keeps its warnings and errors and drops the ~20 lines
 * of webpack output it logs at INFO on every bundle.
 */
export function quietBundlerLogger(target: Logger = Runtime.instance().logger): Logger {
  const drop = () => undefined;
  return {
    log: (level, message, meta) => {
      if (level === 'WARN' || level === 'ERROR') target.log(level, message, meta);
    },
    trace: drop,
    debug: drop,
    info: drop,
    warn: (message, meta) => {
      target.warn(message, meta);
    },
    error: (message, meta) => {
      target.error(message, meta);
    },
  };
}

/**
 * Workflow code for Worker.create: the prebuilt bundle when this module runs from a build that
 * has one, else the workflows bundled now (quietly) from {@link WORKFLOWS_PATH}. With
 * `encodedFailures` (payloads are encrypted) the bundle holds the failure converter that encodes
 * failure messages, so the workflow's own failures reach history encrypted as well.
 * `workflowModules`: the workflow interceptors to bundle (default polysaga's); `prebuilt: false`
 * always bundles now (the prebuilt bundles hold only polysaga's interceptors).
 */
export async function workflowCodeOptions(
  options: { encodedFailures?: boolean; workflowModules?: string[]; prebuilt?: boolean } = {},
): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  const prebuilt = options.encodedFailures ? ENCODED_WORKFLOW_BUNDLE_PATH : WORKFLOW_BUNDLE_PATH;
  if (options.prebuilt !== false && !import.meta.url.endsWith('.ts') && existsSync(prebuilt)) {
    return { workflowBundle: { codePath: prebuilt } };
  }
  return {
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: quietBundlerLogger(),
      workflowInterceptorModules: options.workflowModules ?? [WORKFLOW_INTERCEPTORS_PATH],
      ...(options.encodedFailures ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
    }),
  };
}

/** The driver clients of one worker; {@link BackendResources.close} closes them all. */
export interface BackendResources {
  pool: pg.Pool;
  neo4j: Driver;
  s3: S3Client;
  redis: RedisClient;
  vector: VectorEngine;
  adapters: Adapters;
  /** Big payloads and before-images (`polysaga_blobs`, on `pool`; docs/blobs.md), as stored. */
  blobs: PgBlobStore;
  /**
   * The before-image store: `blobs`, encrypting on put and decrypting on get when
   * `config.codec.keys` is set (docs/security.md).
   */
  beforeImages: BlobStore;
  /**
   * The built-in backends, then those of `backendDefinitions`; postgres, kv, neo4j and vector
   * keep their before-images in `blobs`.
   */
  backends: Backend[];
  /** The catalog of {@link backends}: the built-in one plus the defined backends' catalogs and the registered compensations. */
  catalog: Catalog;
  close(): Promise<void>;
}

export interface BackendResourcesOptions {
  /** Backends of your own (`defineBackend`), connected after the built-in ones and closed with them. */
  backendDefinitions?: readonly BackendDefinition[];
  /**
   * The application's own actions and rollbacks (`defineActions({ ... })`, or the plain map), run
   * by typed saga steps `saga.step({ id, action, rollback, input })` as the backend `app`.
   */
  actions?: ActionsDefinition | ActionMap;
  /**
   * Plugins (`loadPlugins`, src/plugins): their backends are connected after `backendDefinitions`.
   * Compensations registered with `registerCompensation` (plugins' among them) are always added.
   */
  plugins?: readonly LoadedPlugin[];
}

/**
 * Builds the clients and backend modules from configuration. PostgreSQL also holds the
 * audit table and the write-ahead idempotency records of S3 and vector operations.
 */
export async function createBackendResources(
  config: Config,
  options: BackendResourcesOptions = {},
): Promise<BackendResources> {
  let adapters: Adapters;
  try {
    adapters = await openAdapters(config);
  } catch (err) {
    throw new Error(`cannot open the backend clients: ${(err as Error).message}`, { cause: err });
  }
  const definitions = [
    ...(options.backendDefinitions ?? []),
    ...(options.plugins ?? []).flatMap((p) => p.backends),
    ...(options.actions ? [actionsDefinition(options.actions)] : []),
  ];
  let catalog: Catalog;
  const connected: Awaited<ReturnType<typeof connectBackend>>[] = [];
  const closeAll = async () => {
    await Promise.allSettled(connected.map((c) => c.close()));
    await adapters.close();
  };
  try {
    catalog = mergedCatalog(definitions);
    for (const d of definitions) {
      try {
        connected.push(await connectBackend(d, { adapters, config }));
      } catch (err) {
        throw new Error(`cannot connect backend "${d.name}": ${(err as Error).message}`, { cause: err });
      }
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const blobs = new PgBlobStore(adapters.pool);
  const beforeImages = beforeImageStore(blobs, config);
  return {
    pool: adapters.pool,
    neo4j: adapters.neo4j.driver,
    s3: adapters.s3.client,
    redis: adapters.kv.client,
    vector: adapters.vector,
    adapters,
    blobs,
    beforeImages,
    backends: [
      ...createBuiltinBackends(adapters).map((b) => withBeforeImagesOutOfBand(b, beforeImages)),
      ...connected.map((c) => c.backend),
    ],
    catalog,
    close: closeAll,
  };
}

/** The `app` backend of the `actions` option (a map is defined on the spot). */
function actionsDefinition(actions: ActionsDefinition | ActionMap): BackendDefinition {
  // A definition has a string name; every value of a plain map is a function.
  return typeof actions.name === 'string'
    ? (actions as ActionsDefinition)
    : defineActions(actions as ActionMap);
}

/** The store of before-images: `blobs`, encrypted with the configured codec keys (if any). */
export function beforeImageStore(blobs: BlobStore, config: Config): BlobStore {
  return config.codec.keys.length > 0
    ? new EncryptedBlobStore(blobs, new EncryptionCodec(config.codec.keys))
    : blobs;
}

export interface SagaActivitiesOptions {
  /** Operation catalog used to validate payloads (default: `resources.catalog`). */
  catalog?: Catalog;
  /** Extra backends (custom); their operations must be in `catalog`. */
  backends?: Backend[];
  /** Called with the compensation registry before the worker starts: register your own. */
  registerCompensations?: (registry: CompensationRegistry) => void;
}

/**
 * Builds every activity of {@link SagaActivities} over the given resources. Results and errors
 * of every activity have the configured secret values masked (docs/security.md).
 */
export function createActivities(
  resources: BackendResources,
  config: Config,
  options: SagaActivitiesOptions = {},
  /** Told of every audit row inserted (the worker's metrics). */
  observer?: TransitionObserver,
): SagaActivities {
  const backends = [...resources.backends, ...(options.backends ?? [])];
  const compensations = createCompensationRegistry(backends);
  // Compensations registered process-wide (registerCompensation, plugins), given the worker's clients.
  const ctx = { adapters: resources.adapters, config };
  for (const c of registeredCompensations()) {
    compensations.register(c.name, (input) => c.handler(input, ctx), c.backend);
  }
  options.registerCompensations?.(compensations);
  const steps = createStepActivities({
    catalog: options.catalog ?? resources.catalog,
    backends,
    compensations,
    guard: storeGuard(config),
  });
  return maskActivities(
    withTransitions(
      {
        ...steps,
        // Inline compensations fill {{result.…}} from the result: give them the before-image too.
        async compensateStep(input) {
          let result: JsonObject;
          try {
            result = await resolveBeforeImage(resources.beforeImages, input.result);
          } catch (err) {
            throw toActivityError(err, `compensation of step ${input.stepId}`);
          }
          return steps.compensateStep({ ...input, result });
        },
        ...createAuditActivities({ pool: resources.pool, config }),
      },
      observer,
    ),
    secretMaskerFor(config),
  );
}

export interface SagaWorkerOptions extends SagaActivitiesOptions, BackendResourcesOptions {
  config?: Config;
  /** Override the task queue of the configuration. */
  taskQueue?: string;
  /** Replace or wrap activities (e.g. fault injection by `polysaga verify`). */
  wrapActivities?: (activities: SagaActivities) => SagaActivities;
  /** Extra Worker options (e.g. maxConcurrentActivityTaskExecutions). */
  worker?: Partial<WorkerOptions>;
  /**
   * polysaga's Prometheus metrics (docs/observability.md). Default: on when the configuration
   * sets `POLYSAGA_METRICS_PORT`, served there. An object turns them on (port 0: any free
   * port; no port: counted but not served, read `SagaWorker.metrics`); `false`: off.
   */
  metrics?: { port?: number; host?: string; sdkMetricsUrl?: string } | false;
  /**
   * OpenTelemetry tracing. Default: {@link setupTracing} from the OTEL_* environment (off when
   * no OTLP endpoint is set); pass your own (e.g. over an in-memory exporter) or `false`.
   */
  tracing?: Tracing | false;
}

export interface SagaWorker {
  worker: Worker;
  resources: BackendResources;
  config: Config;
  /** Runs until shutdown; closes the clients afterwards. */
  run(): Promise<void>;
  /** Asks the worker to stop (finishing running activities), then closes clients. */
  shutdown(): Promise<void>;
  /** polysaga's metrics, when on. */
  metrics?: SagaMetrics;
  /** The `/metrics` endpoint, when served. */
  metricsServer?: MetricsServer;
  /** Tracing, when on. */
  tracing?: Tracing;
}

/** Connects to Temporal as configured (TLS and API key when set). */
export async function connectWorker(config: Config): Promise<NativeConnection> {
  const connectionOptions = temporalConnectionOptions(config); // a ConfigError, not "unreachable"
  try {
    return await NativeConnection.connect(connectionOptions);
  } catch (err) {
    throw temporalUnreachable(config, err);
  }
}

/**
 * Creates a polysaga worker: every backend, the audit writer, the saga workflows.
 * Call `run()` to poll the task queue.
 */
export async function createSagaWorker(options: SagaWorkerOptions = {}): Promise<SagaWorker> {
  const config = options.config ?? loadConfig();
  if (config.codec.keys.length === 0) {
    Runtime.instance().logger.warn(
      'payload encryption is off: workflow inputs, step payloads and results are stored readable in ' +
        'Temporal history; set POLYSAGA_CODEC_KEYS or POLYSAGA_CODEC_KEYS_FILE (docs/security.md)',
    );
  }
  const connection = await connectWorker(config);
  const { unmasked } = maskableSecrets(config);
  if (unmasked.length > 0)
    Runtime.instance().logger.warn(
      `secrets not masked by value (shorter than 8 characters, or equal to a non-secret setting such as a user or database name): ${unmasked.join(', ')}; see docs/security.md`,
    );
  let resources: BackendResources;
  try {
    resources = await createBackendResources(config, options);
  } catch (err) {
    await connection.close();
    throw err;
  }
  const metricsOptions =
    options.metrics === false
      ? undefined
      : (options.metrics ??
        (config.observability.metricsPort !== undefined
          ? { port: config.observability.metricsPort, host: config.observability.metricsHost }
          : undefined));
  let metrics: SagaMetrics | undefined;
  if (metricsOptions) {
    const trail = createEventStore({ pool: resources.pool });
    metrics = new SagaMetrics({ pool: resources.pool, readTrail: (sagaId) => trail.read(sagaId) });
  }
  const ownTracing = options.tracing === undefined ? setupTracing() : undefined;
  const tracing = options.tracing === false ? undefined : (options.tracing ?? ownTracing);
  const secrets = secretMaskerFor(config);
  // With wrapActivities (fault injection by `polysaga verify`) the registered transitions are
  // built again over the wrapped activities, so that the wrapper applies inside runStep; they
  // see through base's recordEvent whether a row was inserted, and tell the metrics. Otherwise
  // base's own transitions tell them (masking and audit then run once per activity).
  const base = createActivities(resources, config, options, options.wrapActivities ? undefined : metrics);
  const activities = options.wrapActivities
    ? maskActivities(withTransitions(options.wrapActivities(base), metrics), secrets)
    : base;
  let worker: Worker;
  let metricsServer: MetricsServer | undefined;
  try {
    const ownCode =
      options.worker?.workflowsPath === undefined && options.worker?.workflowBundle === undefined;
    const dataConverter = createDataConverter({
      store: resources.blobs,
      thresholdBytes: config.payloads.thresholdBytes,
      keys: config.codec.keys,
      secrets,
    });
    const extra = options.worker ?? {};
    // Saga fields on every workflow log line (and span): polysaga's workflow interceptors, and
    // OpenTelemetry's when tracing is on. In polysaga's own workflow bundle they are bundled in.
    const workflowModules = [
      ...(tracing ? [OTEL_WORKFLOW_INTERCEPTORS_PATH] : []),
      WORKFLOW_INTERCEPTORS_PATH,
    ];
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: options.taskQueue ?? config.temporal.taskQueue,
      ...(ownCode
        ? await workflowCodeOptions({
            encodedFailures: dataConverter.failureConverterPath !== undefined,
            workflowModules,
            // The prebuilt bundles hold polysaga's interceptors, not OpenTelemetry's.
            prebuilt: !tracing,
          })
        : {}),
      activities,
      dataConverter,
      ...extra,
      interceptors: {
        ...extra.interceptors,
        activity: [
          ...sagaActivityInterceptors({ tracing: !!tracing }),
          ...(extra.interceptors?.activity ?? []),
        ],
        // Only for workflow code of the caller's (a bundle ignores them, with a warning).
        ...(ownCode
          ? {}
          : { workflowModules: [...workflowModules, ...(extra.interceptors?.workflowModules ?? [])] }),
      },
      ...(tracing ? { sinks: { ...workflowSpanSinks(tracing), ...extra.sinks } } : {}),
    });
    if (metrics && metricsOptions?.port !== undefined) {
      metricsServer = await serveMetrics(metrics, {
        port: metricsOptions.port,
        ...(metricsOptions.host ? { host: metricsOptions.host } : {}),
        ...(metricsOptions.sdkMetricsUrl ? { sdkMetricsUrl: metricsOptions.sdkMetricsUrl } : {}),
      });
    }
  } catch (err) {
    await resources.close();
    await connection.close();
    await ownTracing?.shutdown();
    throw err;
  }
  let closed: Promise<void> | undefined;
  const closeAll = () =>
    (closed ??= Promise.allSettled([metricsServer?.close(), ownTracing?.shutdown()])
      .then(() => resources.close())
      .then(() => connection.close()));
  let running: Promise<void> | undefined;
  return {
    worker,
    resources,
    config,
    ...(metrics ? { metrics } : {}),
    ...(metricsServer ? { metricsServer } : {}),
    ...(tracing ? { tracing } : {}),
    run() {
      running ??= worker.run().finally(closeAll);
      return running;
    },
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      if (running) await running.catch(() => undefined);
      await closeAll();
    },
  };
}
