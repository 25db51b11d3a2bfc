/**
 * Composition root of recovery: builds what {@link recover} needs from the configuration
 * (Temporal client, audit pool, and, on first use, the backend clients for direct unwinds).
 */
import type pg from 'pg';
import { createAuditPool } from '../audit/index.js';
import { connectTemporalClient } from '../client/connect.js';
import { SagaClient } from '../client/index.js';
import { parseDurationMs, type Config } from '../config/index.js';
import type { SagaActivities } from '../saga/contracts.js';
import { createActivities, createBackendResources, type BackendResources } from '../workers/index.js';
import { temporalProbe, type RecoverOptions } from './recover.js';

/** Connections opened for recovery; `close()` ends them all. */
export interface RecoveryContext {
  /** The dependencies of {@link recover}, with the configuration's retry defaults. */
  options: Pick<
    RecoverOptions,
    'pool' | 'sagaClient' | 'workflows' | 'activities' | 'maxRetries' | 'initialIntervalMs'
  >;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * Connects to Temporal and PostgreSQL as configured. Backend clients (PostgreSQL pool, Neo4j,
 * S3, Redis, vector) are created only when a saga must be unwound directly.
 * @throws when Temporal cannot be reached (message names the address).
 */
export async function openRecoveryContext(config: Config): Promise<RecoveryContext> {
  const pool = createAuditPool(config.postgres);
  let connected: Awaited<ReturnType<typeof connectTemporalClient>>;
  try {
    connected = await connectTemporalClient(config, { pool });
  } catch (err) {
    await pool.end();
    throw err;
  }
  const { client, connection } = connected;
  let resources: Promise<BackendResources> | undefined;
  let activities: Promise<Pick<SagaActivities, 'compensateStep' | 'recordEvent'>> | undefined;
  return {
    pool,
    options: {
      pool,
      sagaClient: new SagaClient({ client, taskQueue: config.temporal.taskQueue, scope: config.scope }),
      workflows: temporalProbe(client),
      activities: () =>
        (activities ??= (resources ??= createBackendResources(config)).then((r) => {
          const all = createActivities(r, config);
          return {
            compensateStep: (input) => all.compensateStep(input),
            recordEvent: (input) => all.recordEvent(input),
          };
        })),
      maxRetries: config.retry.maxRetries,
      initialIntervalMs: parseDurationMs(config.retry.initialInterval),
    },
    async close() {
      const r = resources ? await resources.catch(() => undefined) : undefined;
      await Promise.allSettled([r?.close(), pool.end(), connection.close()]);
    },
  };
}
