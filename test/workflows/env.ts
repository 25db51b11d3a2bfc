/**
 * Test environment for workflow tests: the stack's Temporal dev server (TEMPORAL_ADDRESS,
 * exported by the global setup or set with POLYSAGA_STACK=external), else a local dev server
 * started from POLYSAGA_TEMPORAL_BIN with the saga search attributes registered.
 */
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { SagaClient } from '../../src/client/index.js';
import type { Catalog } from '../../src/saga/catalog.js';
import { SAGA_SEARCH_ATTRIBUTES } from '../../src/saga/search-attributes.js';
import { Fakes } from './fakes.js';

let runtimeInstalled = false;

export async function createTestEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      // Quiet by default (the tests inject failures on purpose); POLYSAGA_TEST_LOG_LEVEL=INFO shows the saga logs.
      const level = process.env.POLYSAGA_TEST_LOG_LEVEL as 'INFO' | undefined;
      Runtime.install({
        logger: level ? new DefaultLogger(level) : new DefaultLogger('ERROR', () => undefined),
      });
    } catch {
      // already installed in this process
    }
  }
  const address = process.env.TEMPORAL_ADDRESS;
  if (address) {
    return TestWorkflowEnvironment.createFromExistingServer({
      address,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    });
  }
  const path = process.env.POLYSAGA_TEMPORAL_BIN;
  if (!path)
    throw new Error(
      'workflow tests need TEMPORAL_ADDRESS or POLYSAGA_TEMPORAL_BIN (run through the vitest global setup)',
    );
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      searchAttributes: SAGA_SEARCH_ATTRIBUTES,
    },
  });
}

/** Bundles the production workflows plus the typed example sagas (once per test file). */
export function bundleTestWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows-entry.ts', import.meta.url)),
    logger: quietLogger,
  });
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

/** A Temporal test environment with a worker running the saga workflows over fake activities. */
export interface FakeSagaHarness {
  env: TestWorkflowEnvironment;
  fakes: Fakes;
  sagas: SagaClient;
  /** Stops the worker and tears the environment down. */
  close(): Promise<void>;
}

/**
 * Starts the harness of the workflow tests and the history recorder: test environment, a worker
 * with the test bundle and fake activities on `taskQueue`, and a SagaClient with short retries.
 * `catalog` defaults to the built-in one (the real example definitions validate against it).
 */
export async function startFakeSagaHarness(taskQueue: string, catalog?: Catalog): Promise<FakeSagaHarness> {
  const env = await createTestEnv();
  const fakes = new Fakes();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundleTestWorkflows(),
    activities: fakes.activities(),
  });
  const running = worker.run();
  const sagas = new SagaClient({
    client: env.client,
    taskQueue,
    ...(catalog ? { catalog } : {}),
    tuning: { retryInterval: '10ms', compensationAttempts: 2 },
  });
  return {
    env,
    fakes,
    sagas,
    async close() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
