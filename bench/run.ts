/**
 * Benchmarks (not timed tests): what a multi-store write costs as a polysaga saga, measured in
 * one run against the real servers of the local stack, reported as ratios.
 *
 *   direct      the same three writes (PostgreSQL row, Neo4j node, Redis key) with the drivers, no saga
 *   saga        the writes as a committed saga on an in-process worker (Temporal dev server)
 *   rollback    the same saga failing at its last step: two writes, then both undone
 *   concurrent  SAGAS sagas started at once (throughput)
 *
 * Run: npm run bench  (brings the stack up first). Env: BENCH_SAGAS (default 30).
 * Writes bench/reports/latest.json.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { connectTemporalClient, SagaClient } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import { createSagaWorker } from '../src/workers/index.js';

const N = Number(process.env.BENCH_SAGAS ?? 30);
const config = loadConfig();
const runId = randomUUID().slice(0, 8);
const table = `bench_${runId}`;
const taskQueue = `polysaga-bench-${runId}`;

// Saga logs (a rolled-back saga logs at ERROR) would drown the report; keep the SDK's own errors.
const sdkErrors = new DefaultLogger('ERROR');
Runtime.install({
  logger: new DefaultLogger('ERROR', (e) => {
    if (e.meta?.sdkComponent !== 'workflow') sdkErrors.log(e.level, e.message, e.meta);
  }),
});
const worker = await createSagaWorker({ config, taskQueue });
const running = worker.run();
const { client: temporal, connection } = await connectTemporalClient(config, { pool: worker.resources.pool });
const sagas = new SagaClient({ client: temporal, taskQueue });
const { pool, neo4j, redis } = worker.resources;
await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, v int)`);

function definition(id: string, failLast: boolean) {
  return {
    name: 'bench',
    sagaId: `bench-${id}`,
    steps: [
      { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id, v: 1 } } },
      {
        id: 'node',
        backend: 'neo4j',
        operation: 'create_node',
        payload: { labels: ['BenchDoc'], properties: { id } },
        compensation: 'graph_delete_node',
      },
      {
        id: 'key',
        backend: failLast ? 'postgres' : 'kv',
        operation: failLast ? 'insert' : 'set',
        // The failing variant inserts the same row again: a permanent constraint violation.
        payload: failLast ? { table, values: { id, v: 2 } } : { key: `bench:${id}`, value: 'v' },
      },
    ],
  };
}

async function time(label: string, fn: (i: number) => Promise<void>, n = N): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const ms = (performance.now() - t0) / n;
  console.log(`${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms per write-set (n=${n})`);
  return ms;
}

try {
  // Warm-up: first workflow task and connections.
  await sagas.executeSaga(definition(`warm-${runId}`, false));

  const direct = await time('direct driver writes', async (i) => {
    const id = `d-${runId}-${i}`;
    await pool.query(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [id]);
    await neo4j.executeQuery('CREATE (:BenchDoc {id: $id})', { id });
    await redis.set(`bench:${id}`, 'v');
  });
  const saga = await time('saga, committed', async (i) => {
    const r = await sagas.executeSaga(definition(`s-${runId}-${i}`, false));
    if (r.status.state !== 'COMMITTED') throw new Error(`saga ended ${r.status.state}`);
  });
  const rollback = await time('saga, rolled back', async (i) => {
    const r = await sagas.executeSaga(definition(`r-${runId}-${i}`, true));
    if (r.status.state !== 'ROLLED_BACK') throw new Error(`saga ended ${r.status.state}`);
  });
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) => sagas.executeSaga(definition(`c-${runId}-${i}`, false))),
  );
  const concurrentMs = performance.now() - t0;
  const committed = results.filter((r) => r.status.state === 'COMMITTED').length;
  const throughput = (N / concurrentMs) * 1000;
  console.log(
    `${'saga, concurrent'.padEnd(28)} ${throughput.toFixed(1).padStart(8)} sagas/s (${committed}/${N} committed)`,
  );

  const report = {
    date: new Date().toISOString(),
    sagas: N,
    msPerWriteSet: { direct, saga, rollback },
    ratios: { sagaOverDirect: saga / direct, rollbackOverCommit: rollback / saga },
    concurrent: { sagasPerSecond: throughput, committed },
  };
  console.log(`\nratio saga / direct          ${report.ratios.sagaOverDirect.toFixed(1)}x`);
  console.log(`ratio rollback / commit      ${report.ratios.rollbackOverCommit.toFixed(2)}x`);
  writeFileSync(new URL('reports/latest.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await neo4j.executeQuery('MATCH (n:BenchDoc) DETACH DELETE n');
  await connection.close();
  await worker.shutdown();
  await running.catch(() => undefined);
}
