/**
 * Re-records the replay histories in test/replay/histories/ from real runs of the saga
 * scenarios on a Temporal dev server, with the fake activities of the workflow tests.
 *
 *   npx tsx scripts/record-histories.ts [--tag v2]
 *
 * With `--tag T` the files are written as `<scenario>@T.json` beside the existing ones: use it
 * when the workflow's shape changes, so the old histories keep proving that sagas started by
 * the previous version still replay.
 *
 * Server: TEMPORAL_ADDRESS if set (the stack's dev server, with the saga search attributes
 * registered), else a dev server started from POLYSAGA_TEMPORAL_BIN. Re-record after an
 * intended, versioned change of workflow code; never to make a failing replay test pass.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyToJsonText } from '../test/replay/history-json.js';
import type { SagaDefinition } from '../src/saga/definition.js';
import { lockWorkflowId } from '../src/saga/identity.js';
import { documentIngestExampleInput } from '../examples/typed/inputs.js';
import { startFakeSagaHarness } from '../test/workflows/env.js';
import { testCatalog } from '../test/workflows/catalog.js';

const outDir = fileURLToPath(new URL('../test/replay/histories/', import.meta.url));
const tagIndex = process.argv.indexOf('--tag');
const fileTag = tagIndex >= 0 ? process.argv[tagIndex + 1] : undefined;
if (tagIndex >= 0 && !/^[a-z0-9][a-z0-9.-]*$/.test(fileTag ?? '')) {
  throw new Error('--tag needs a value of lower-case letters, digits, . or -');
}

function def(sagaId: string, extra: Partial<SagaDefinition> = {}, steps = 3): SagaDefinition {
  const backends = ['postgres', 'neo4j', 'vector', 's3'];
  return {
    name: 'replay-saga',
    sagaId,
    traceId: `trace-${sagaId}`,
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i + 1}`,
      backend: backends[i % 4]!,
      operation: 'write',
      payload: { n: i + 1 },
    })),
    ...extra,
  };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

async function main(): Promise<void> {
  const harness = await startFakeSagaHarness(`polysaga-record-${randomUUID()}`, testCatalog);
  const { env, fakes, sagas } = harness;
  const tag = randomUUID().slice(0, 8);
  const saved: string[] = [];
  const save = async (name: string, workflowId: string, runId?: string) => {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    writeFileSync(`${outDir}${name}${fileTag ? `@${fileTag}` : ''}.json`, historyToJsonText(history));
    saved.push(name);
  };
  const failed = (sagaId: string) => until(async () => (await sagas.getStatus(sagaId)).state === 'FAILED');

  try {
    const committed = `committed-${tag}`;
    await sagas.executeSaga(def(committed, { identityKey: `replay:${tag}` }));
    await save('committed', committed);
    await until(
      async () =>
        (await env.client.workflow.getHandle(lockWorkflowId(`replay:${tag}`)).describe()).status.name ===
        'COMPLETED',
    );
    await save('identity-lock', lockWorkflowId(`replay:${tag}`));

    const rolledBack = `rolled-back-${tag}`;
    fakes.set(rolledBack, { failSteps: ['s3'] });
    await sagas.executeSaga(def(rolledBack));
    await save('rolled-back', rolledBack);

    const parallel = `parallel-${tag}`;
    fakes.set(parallel, { failSteps: ['s4'], barrierCompensations: ['s1', 's2', 's3'] });
    await sagas.executeSaga(def(parallel, { compensation: { mode: 'parallel' } }, 4));
    await save('parallel', parallel);

    const retried = `retried-${tag}`;
    fakes.set(retried, { failSteps: ['s3'], failCompensations: ['s1'] });
    const r = await sagas.createSaga(def(retried));
    await failed(retried);
    fakes.heal(retried);
    await sagas.retryCompensation(retried);
    await r.result();
    await save('failed-retried', retried);

    const resolved = `resolved-${tag}`;
    fakes.set(resolved, { failSteps: ['s2'], failCompensations: ['s1'] });
    const s = await sagas.createSaga(def(resolved));
    await failed(resolved);
    await sagas.resolveSaga(resolved, 'fixed by hand', 'replay');
    await s.result();
    await save('resolved', resolved);

    const abortBefore = `abort-before-${tag}`;
    fakes.set(abortBefore, { blockSteps: ['s2'] });
    const ab = await sagas.createSaga(def(abortBefore));
    await fakes.whenStarted(abortBefore, 's2');
    await sagas.abortSaga(abortBefore, 'replay abort');
    await until(async () => (await sagas.getStatus(abortBefore)).abortRequested);
    fakes.release(abortBefore, 's2');
    await ab.result();
    await save('abort-before-pivot', abortBefore);

    // An abort while a step retries (patch polysaga-abort-cancels-step): the step is cancelled.
    const abortRetrying = `abort-retrying-${tag}`;
    fakes.set(abortRetrying, { flakySteps: { s2: 1_000_000 } });
    const retryingDef = def(abortRetrying);
    retryingDef.steps[1]!.retry = {
      maximumAttempts: 0,
      initialInterval: '1s',
      maximumInterval: '1s',
      backoffCoefficient: 1,
    };
    const ar = await sagas.createSaga(retryingDef);
    await until(() => Promise.resolve(fakes.callsOf(abortRetrying).filter((c) => c === '+s2').length >= 2));
    await sagas.abortSaga(abortRetrying, 'replay abort while retrying');
    await ar.result();
    await save('abort-retrying-step', abortRetrying);

    const abortAfter = `abort-after-${tag}`;
    fakes.set(abortAfter, { blockSteps: ['r1'] });
    const aa = await sagas.createSaga({
      name: 'replay-saga',
      sagaId: abortAfter,
      steps: [
        { id: 'c1', backend: 'postgres', operation: 'write', payload: {} },
        { id: 'p', backend: 'http', operation: 'notify', payload: {}, kind: 'pivot' },
        { id: 'r1', backend: 's3', operation: 'notify', payload: {}, kind: 'retriable' },
      ],
    });
    await fakes.whenStarted(abortAfter, 'r1');
    await sagas.abortSaga(abortAfter);
    await until(async () => (await sagas.getStatus(abortAfter)).abortRequested);
    fakes.release(abortAfter, 'r1');
    await aa.result();
    await save('abort-after-pivot', abortAfter);

    const cancelled = `cancelled-${tag}`;
    fakes.set(cancelled, { blockSteps: ['s2'] });
    const c = await sagas.createSaga(def(cancelled));
    await fakes.whenStarted(cancelled, 's2');
    await env.client.workflow.getHandle(cancelled).cancel();
    await until(async () => (await sagas.getStatus(cancelled)).abortRequested);
    fakes.release(cancelled, 's2');
    await c.result();
    await save('cancelled', cancelled);

    const undone = `undone-${tag}`;
    await sagas.executeSaga(def(undone));
    const u = await sagas.compensateSaga(undone);
    await u.result();
    await save('compensate-committed', undone, u.runId);

    const typed = `typed-doc-${tag}`;
    const t = await sagas.startTypedSaga('documentIngestSaga', {
      sagaId: typed,
      name: 'document-ingest',
      identityKey: `document:${tag}`,
      traceId: 'trace-doc-42',
      args: [{ ...documentIngestExampleInput, identityKey: `document:${tag}` }],
    });
    await t.result();
    await save('typed-document-ingest', typed);

    const fastCommitted = `fast-committed-${tag}`;
    await sagas.executeSaga(def(fastCommitted, { execution: 'fast' }));
    await save('fast-committed', fastCommitted);

    const fastRolledBack = `fast-rolled-back-${tag}`;
    fakes.set(fastRolledBack, { failSteps: ['s3'] });
    await sagas.executeSaga(def(fastRolledBack, { execution: 'fast' }));
    await save('fast-rolled-back', fastRolledBack);
  } finally {
    await harness.close();
  }
  console.log(`recorded ${saved.length} histories in ${outDir}: ${saved.join(', ')}`);
}

mkdirSync(outDir, { recursive: true });
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
