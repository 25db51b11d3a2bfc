/**
 * Typed sagas and the generic workflow share one engine: the typed versions of the examples
 * produce the same steps, payloads, compensations, states and events as the JSON definitions.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaClient } from '../../src/client/index.js';
import type { SagaDefinition } from '../../src/saga/definition.js';
import type { SagaResult } from '../../src/saga/status.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { documentIngestExampleInput, wikiGenerationExampleInput } from '../../examples/typed/inputs.js';
import { startFakeSagaHarness, type FakeSagaHarness } from './env.js';
import type { Fakes } from './fakes.js';

const TASK_QUEUE = `polysaga-typed-test-${randomUUID()}`;
let sagas: SagaClient;
let fakes: Fakes;
let harness: FakeSagaHarness;

beforeAll(async () => {
  // The built-in catalog: the example definitions must validate for real.
  harness = await startFakeSagaHarness(TASK_QUEUE);
  ({ sagas, fakes } = harness);
});

afterAll(async () => {
  await harness?.close();
});

function example(name: string): SagaDefinition {
  return JSON.parse(
    readFileSync(new URL(`../../examples/${name}.json`, import.meta.url), 'utf8'),
  ) as SagaDefinition;
}

/** What must be identical between the two ways of writing a saga. */
function shape(sagaId: string, result: SagaResult) {
  return {
    calls: fakes.calls
      .filter((c) => c.sagaId === sagaId)
      .map((c) => ({ kind: c.kind, stepId: c.stepId, payload: c.payload })),
    events: fakes.eventsOf(sagaId).map((e) => `${e.seq}:${e.status}:${e.stepId ?? ''}`),
    state: result.status.state,
    steps: result.status.steps.map((s) => ({
      id: s.id,
      backend: s.backend,
      operation: s.operation,
      kind: s.kind,
      state: s.state,
      attempts: s.attempts,
    })),
    stack: result.status.compensationStack.map((e) => ({ ...e, idempotencyKey: undefined })),
    totalSteps: result.status.totalSteps,
    completedSteps: result.status.completedSteps,
    failedAt: result.status.failedAt,
  };
}

const cases = [
  {
    name: 'document-ingest',
    type: 'documentIngestSaga',
    input: documentIngestExampleInput,
    failAt: 'chunks',
    // The definition's ids are `${sagaId}`: the typed input carries the generic saga's id there.
    sagaIdField: 'documentId',
  },
  {
    name: 'wiki-generation',
    type: 'wikiGenerationSaga',
    input: wikiGenerationExampleInput,
    failAt: 'git-snapshot',
    sagaIdField: undefined,
  },
] as const;

describe('typed sagas behave like their definitions', () => {
  for (const c of cases) {
    for (const fail of [false, true]) {
      it(`${c.name} ${fail ? `failing at ${c.failAt}` : 'committing'}`, async () => {
        const suffix = randomUUID().slice(0, 8);
        const genericId = `${c.name}-generic-${suffix}`;
        const typedId = `${c.name}-typed-${suffix}`;
        const identityKey = `${c.name}:${suffix}`;
        if (fail) {
          fakes.set(genericId, { failSteps: [c.failAt] });
          fakes.set(typedId, { failSteps: [c.failAt] });
        }
        const def = { ...example(c.name), sagaId: genericId, identityKey, traceId: `trace-${suffix}` };
        const generic = await sagas.executeSaga(def);
        // The lock is released by an async signal after the generic saga closed.
        let typedResult: SagaResult | undefined;
        for (let i = 0; i < 50 && !typedResult; i++) {
          try {
            const started = await sagas.startTypedSaga(c.type, {
              sagaId: typedId,
              name: c.name,
              identityKey,
              traceId: `trace-${suffix}`,
              args: [
                {
                  ...c.input,
                  ...(c.sagaIdField ? { [c.sagaIdField]: genericId } : {}),
                  identityKey,
                  traceId: `trace-${suffix}`,
                },
              ],
            });
            typedResult = await started.result();
          } catch (e) {
            if ((e as Error).name !== 'IdentityLockedError') throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        expect(generic.status.state).toBe(fail ? 'ROLLED_BACK' : 'COMMITTED');
        expect(shape(typedId, typedResult!)).toEqual(shape(genericId, generic));
        expect(checkEventSequence(fakes.eventsOf(typedId)).ok).toBe(true);
        expect(typedResult!.status.identityKey).toBe(identityKey);
      });
    }
  }
});
