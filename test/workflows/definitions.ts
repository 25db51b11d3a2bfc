/** The test saga of the workflow tests: `steps` steps `s1…sN` over the catalog's fake backends. */
import type { SagaDefinition } from '../../src/saga/definition.js';

const BACKENDS = ['postgres', 'neo4j', 'vector', 's3'];

export function testDefinition(
  sagaId: string,
  extra: Partial<SagaDefinition> = {},
  steps = 4,
): SagaDefinition {
  return {
    name: 'test-saga',
    sagaId,
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i + 1}`,
      backend: BACKENDS[i % BACKENDS.length]!,
      operation: 'write',
      payload: { n: i + 1 },
    })),
    ...extra,
  };
}
