/**
 * The composition the worker uses: openAdapters(config) → built-in backends → registry and
 * step activities. Checks that catalog and implementations agree, that the seed's compensation
 * names are registered, and that custom compensations can be registered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { openAdapters, type Adapters } from '../../../src/backends/connect.js';
import { createBuiltinBackends } from '../../../src/backends/index.js';
import { createCompensationRegistry } from '../../../src/activities/compensations.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { compensationInput, stepInput, uniq } from './helpers.js';

let adapters: Adapters;
beforeAll(async () => {
  adapters = await openAdapters(loadConfig());
});
afterAll(async () => {
  await adapters?.close();
});

describe('built-in backends and the compensation registry', () => {
  it('registers every default compensation named by the seeds and the issue', () => {
    const registry = createCompensationRegistry(createBuiltinBackends(adapters));
    for (const name of [
      'relational_delete',
      'relational_restore',
      'graph_delete_node',
      'vector_delete_chunks',
      's3_delete_object',
      's3_restore_object',
      'kv_delete',
      'kv_restore',
      'http_request',
    ]) {
      expect(registry.get(name), name).toBeTypeOf('function');
    }
  });

  it('catalog and implementations agree: every operation and compensation exists on both sides', () => {
    const backends = createBuiltinBackends(adapters);
    const registry = createCompensationRegistry(backends);
    for (const b of backends) {
      const spec = builtinCatalog.backends[b.name];
      expect(spec, b.name).toBeDefined();
      expect(Object.keys(b.operations).sort()).toEqual(Object.keys(spec!.operations).sort());
      for (const [op, s] of Object.entries(spec!.operations)) {
        if (s.defaultCompensation)
          expect(builtinCatalog.compensations[s.defaultCompensation], `${b.name}.${op}`).toBeDefined();
      }
    }
    expect(registry.names()).toEqual(Object.keys(builtinCatalog.compensations).sort());
    for (const [name, c] of Object.entries(builtinCatalog.compensations))
      expect(registry.backendOf(name)).toBe(c.backend);
  });

  it('a custom compensation registered by the application is used by compensateStep', async () => {
    const backends = createBuiltinBackends(adapters);
    const registry = createCompensationRegistry(backends);
    const seen: string[] = [];
    registry.register('audit_note', (input) => {
      seen.push(input.stepId);
      return Promise.resolve({ outcome: 'undone', detail: { note: 'custom' } });
    });
    const acts = createStepActivities({ catalog: builtinCatalog, backends, compensations: registry });
    const key = uniq('kv:custom');
    const step = stepInput('kv', 'set', { key, value: 'v' });
    const r = await acts.executeStep(step);
    expect(await acts.compensateStep(compensationInput(step, r.result, 'audit_note'))).toEqual({
      outcome: 'undone',
      detail: { note: 'custom' },
    });
    expect(seen).toEqual(['step']);
    expect(await acts.compensateStep(compensationInput(step, r.result, 'kv_delete'))).toEqual({
      outcome: 'undone',
    });
  });

  it('an inline compensation can use {{result.…}} placeholders', async () => {
    const acts = createStepActivities({ catalog: builtinCatalog, backends: createBuiltinBackends(adapters) });
    const key = uniq('kv:inline');
    const step = stepInput('kv', 'set', { key, value: 'v' });
    const r = await acts.executeStep(step);
    const out = await acts.compensateStep(
      compensationInput(step, r.result, { operation: 'delete', payload: { key: '{{result.key}}' } }),
    );
    expect(out.outcome).toBe('undone');
    expect(out.detail).toMatchObject({ operation: 'delete', key, before: 'v' });
  });
});
