/**
 * An in-process polysaga worker and a saga client on one task queue of the stack's Temporal, for
 * integration tests. The global set-up (test/helpers/global-setup.ts) has already migrated the
 * audit table. `close()` drops the tables it created, closes the client and stops the worker.
 */
import type pg from 'pg';
import {
  connectTemporalClient,
  SagaClient,
  type ConnectedTemporalClient,
  type SagaClientOptions,
} from '../../src/client/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createSagaWorker, type SagaWorker, type SagaWorkerOptions } from '../../src/workers/index.js';

export interface InProcessSagas {
  config: Config;
  taskQueue: string;
  worker: SagaWorker;
  /** The worker's pool (polysaga's own PostgreSQL). */
  pool: pg.Pool;
  connected: ConnectedTemporalClient;
  sagas: SagaClient;
  close(): Promise<void>;
}

export interface InProcessSagasOptions {
  taskQueue: string;
  /** The worker's configuration (default: `loadConfig()`). */
  config?: Config;
  /** The client's configuration (default: the worker's). */
  clientConfig?: Config;
  /** More worker options (tracing, metrics, plugins …). */
  worker?: Omit<SagaWorkerOptions, 'config' | 'taskQueue'>;
  /** More client options (limits …). */
  client?: Omit<SagaClientOptions, 'client' | 'taskQueue'>;
  /** Tables created before the worker runs, as `name (columns)`; dropped by `close()`. */
  tables?: string[];
}

export async function startInProcessSagas(options: InProcessSagasOptions): Promise<InProcessSagas> {
  const config = options.config ?? loadConfig();
  const clientConfig = options.clientConfig ?? config;
  const { taskQueue } = options;
  const worker = await createSagaWorker({ ...options.worker, config, taskQueue });
  const running = worker.run();
  const pool = worker.resources.pool;
  const tables = (options.tables ?? []).map((t) => t.trim());
  for (const t of tables) await pool.query(`CREATE TABLE ${t}`);
  const connected = await connectTemporalClient(clientConfig, clientConfig === config ? { pool } : {});
  const sagas = new SagaClient({ ...options.client, client: connected.client, taskQueue });
  return {
    config,
    taskQueue,
    worker,
    pool,
    connected,
    sagas,
    async close() {
      for (const t of tables) {
        const name = t.split(/[\s(]/)[0]!;
        await pool.query(`DROP TABLE IF EXISTS ${name}`).catch(() => undefined);
      }
      await connected.close();
      await worker.shutdown();
      await running.catch(() => undefined);
    },
  };
}
