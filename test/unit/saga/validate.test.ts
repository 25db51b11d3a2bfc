import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import type { Catalog } from '../../../src/saga/catalog.js';
import { InvalidDefinitionError } from '../../../src/saga/errors.js';
import {
  assertValidDefinition,
  DEFAULT_DEFINITION_LIMITS,
  type DefinitionLimits,
  durationToMs,
  formatBytes,
  jsonBytes,
  validateDefinition,
} from '../../../src/saga/validate.js';

/** A small catalog built here, independent of the built-in one. */
const catalog: Catalog = {
  backends: {
    postgres: {
      operations: {
        insert: {
          payload: z.object({ table: z.string(), values: z.record(z.string(), z.unknown()) }),
          defaultCompensation: 'relational_delete',
          description: '',
        },
        lock: { payload: z.object({ table: z.string() }), description: 'no default compensation' },
      },
    },
    http: {
      operations: {
        request: { payload: z.object({ service: z.string(), path: z.string() }), description: '' },
      },
    },
    custom: {
      operations: { poke: { payload: z.object({}), defaultCompensation: 'custom_unpoke', description: '' } },
    },
  },
  compensations: {
    relational_delete: { backend: 'postgres', description: '' },
    http_undo: { backend: 'http', description: '' },
    custom_unpoke: { backend: 'custom', description: '' },
  },
};

const row = {
  id: 'row',
  backend: 'postgres',
  operation: 'insert',
  payload: { table: 'documents', values: { id: 1 } },
};
const call = (id: string, kind?: string, extra: object = {}) => ({
  id,
  backend: 'http',
  operation: 'request',
  payload: { service: 'git', path: '/x' },
  kind,
  ...extra,
});

const row2 = { ...row, id: 'row2' };

function issues(def: unknown, limits?: Partial<DefinitionLimits>) {
  const r = validateDefinition(def, catalog, limits ? { limits } : {});
  if (r.ok) throw new Error('expected invalid');
  return r.issues;
}

describe('validateDefinition', () => {
  it('normalizes a valid definition: defaults, idempotency keys, default compensation', () => {
    const r = validateDefinition(
      {
        name: 'ingest',
        sagaId: 'doc-1',
        steps: [row, { id: 'poke', backend: 'custom', operation: 'poke', payload: {} }],
      },
      catalog,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.definition).toMatchObject({
      name: 'ingest',
      sagaId: 'doc-1',
      traceId: 'doc-1',
      identityKey: null,
      compensation: { mode: 'sequential' },
    });
    expect(r.definition.steps[0]).toMatchObject({
      id: 'row',
      kind: 'compensatable',
      compensation: 'relational_delete',
      idempotencyKey: 'doc-1:row',
    });
    expect(r.definition.steps[1]).toMatchObject({
      compensation: 'custom_unpoke',
      idempotencyKey: 'doc-1:poke',
    });
  });

  it('generates a saga id and keeps explicit idempotency keys', () => {
    const r = validateDefinition({ name: 'ingest', steps: [{ ...row, idempotencyKey: 'k1' }] }, catalog, {
      generateId: () => 'gen-1',
    });
    expect(r.ok && r.definition.sagaId).toBe('gen-1');
    expect(r.ok && r.definition.steps[0]!.idempotencyKey).toBe('k1');
  });

  it('unknown backend: names step and field and lists the valid backends', () => {
    const [i] = issues({ name: 'x', steps: [{ ...row, backend: 'mongo' }] });
    expect(i).toMatchObject({ stepId: 'row', stepIndex: 0, field: 'backend' });
    expect(i!.message).toContain('custom, http, postgres');
  });

  it('unknown operation: lists the valid operations', () => {
    const [i] = issues({ name: 'x', steps: [{ ...row, operation: 'upsert' }] });
    expect(i).toMatchObject({ stepId: 'row', field: 'operation' });
    expect(i!.message).toContain('insert, lock');
  });

  it('payload failing the backend schema: names the payload field', () => {
    const [i] = issues({ name: 'x', steps: [{ ...row, payload: { values: {} } }] });
    expect(i).toMatchObject({ stepId: 'row', field: 'payload.table' });
  });

  it('duplicate step ids', () => {
    const list = issues({ name: 'x', steps: [row, row] });
    expect(list).toEqual([expect.objectContaining({ stepId: 'row', stepIndex: 1, field: 'id' })]);
    expect(list[0]!.message).toContain('steps[0]');
  });

  it('compensatable step without compensation and without a default', () => {
    const [i] = issues({
      name: 'x',
      steps: [{ id: 'l', backend: 'postgres', operation: 'lock', payload: { table: 't' } }],
    });
    expect(i).toMatchObject({ stepId: 'l', field: 'compensation' });
    expect(i!.message).toContain('relational_delete');
  });

  it('compensatable step with compensation null', () => {
    const [i] = issues({ name: 'x', steps: [{ ...row, compensation: null }] });
    expect(i).toMatchObject({ stepId: 'row', field: 'compensation' });
  });

  it('unknown compensation name, and a compensation of another backend', () => {
    const [unknown] = issues({ name: 'x', steps: [{ ...row, compensation: 'nope' }] });
    expect(unknown).toMatchObject({ stepId: 'row', field: 'compensation' });
    expect(unknown!.message).toContain('unknown compensation "nope"');
    expect(issues({ name: 'x', steps: [{ ...row, compensation: 'http_undo' }] })[0]!.message).toContain(
      'belongs to backend "http"',
    );
  });

  it('inline compensation: operation and payload checked', () => {
    const ok = validateDefinition(
      { name: 'x', steps: [{ ...row, compensation: { operation: 'lock', payload: { table: 't' } } }] },
      catalog,
    );
    expect(ok.ok).toBe(true);
    expect(
      issues({ name: 'x', steps: [{ ...row, compensation: { operation: 'drop', payload: {} } }] })[0],
    ).toMatchObject({ field: 'compensation.operation' });
    expect(
      issues({ name: 'x', steps: [{ ...row, compensation: { operation: 'lock', payload: {} } }] })[0],
    ).toMatchObject({ field: 'compensation.payload.table' });
  });

  it('a compensatable step after the pivot', () => {
    const list = issues({ name: 'x', steps: [call('p', 'pivot'), { ...row }] });
    expect(list[0]).toMatchObject({ stepId: 'row', stepIndex: 1, field: 'kind' });
    expect(list[0]!.message).toContain('cannot follow a pivot');
  });

  it('more than one pivot', () => {
    const list = issues({ name: 'x', steps: [row, call('p1', 'pivot'), call('p2', 'pivot')] });
    expect(list[0]).toMatchObject({ stepId: 'p2', field: 'kind' });
    expect(list[0]!.message).toContain('more than one pivot');
  });

  it('a pivot after a retriable step', () => {
    expect(issues({ name: 'x', steps: [call('r', 'retriable'), call('p', 'pivot')] })[0]).toMatchObject({
      stepId: 'p',
      field: 'kind',
    });
  });

  it('a retriable step with a finite retry limit', () => {
    const list = issues({
      name: 'x',
      steps: [row, call('p', 'pivot'), call('r', 'retriable', { retry: { maximumAttempts: 3 } })],
    });
    expect(list[0]).toMatchObject({ stepId: 'r', field: 'retry.maximumAttempts' });
    expect(
      validateDefinition(
        {
          name: 'x',
          steps: [row, call('p', 'pivot'), call('r', 'retriable', { retry: { maximumAttempts: 0 } })],
        },
        catalog,
      ).ok,
    ).toBe(true);
  });

  it('a pivot or retriable step with a compensation', () => {
    expect(
      issues({ name: 'x', steps: [call('p', 'pivot', { compensation: 'http_undo' })] })[0],
    ).toMatchObject({ stepId: 'p', field: 'compensation' });
  });

  it('structural errors name the step and field', () => {
    expect(issues({ name: 'x', steps: [{ ...row, timeout: 'soon' }] })[0]).toMatchObject({
      stepId: 'row',
      stepIndex: 0,
      field: 'timeout',
    });
    expect(issues({ name: 'x', steps: [{ ...row, kind: 'maybe' }] })[0]).toMatchObject({
      stepId: 'row',
      field: 'kind',
    });
    expect(issues({ name: 'x', steps: [{ ...row, extra: 1 }] })[0]).toMatchObject({
      stepId: 'row',
      field: '(root)',
    });
    expect(issues({ name: 'x', steps: [] })[0]).toMatchObject({ field: 'steps' });
    expect(issues({ steps: [row] })[0]).toMatchObject({ field: 'name' });
    expect(issues({ name: 'x', compensation: { mode: 'random' }, steps: [row] })[0]).toMatchObject({
      field: 'compensation.mode',
    });
  });

  it('assertValidDefinition throws InvalidDefinitionError naming step and field', () => {
    try {
      assertValidDefinition({ name: 'x', steps: [{ ...row, backend: 'mongo' }] }, catalog);
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidDefinitionError);
      const err = e as InvalidDefinitionError;
      expect(err.stepId).toBe('row');
      expect(err.field).toBe('backend');
      expect(err.message).toContain('step "row" (steps[0]) field "backend"');
    }
  });
});

describe('limits', () => {
  const MiB = 1024 * 1024;
  /** A postgres insert whose payload serializes to about `bytes` bytes. */
  const bigRow = (id: string, bytes: number) => ({
    ...row,
    id,
    payload: { table: 'documents', values: { id: 1, body: 'x'.repeat(bytes) } },
  });

  it('defaults: 16 MiB per definition, 1000 steps, 4 MiB per step payload, 1s minimum timeout', () => {
    expect(DEFAULT_DEFINITION_LIMITS).toEqual({
      maxDefinitionBytes: 16 * MiB,
      maxSteps: 1000,
      maxStepPayloadBytes: 4 * MiB,
      minStepTimeoutMs: 1000,
    });
  });

  it('a definition over maxDefinitionBytes: one issue naming the limit, nothing else checked', () => {
    // Five 3.5 MiB payloads: each within the per-step limit, 17.5 MiB together.
    const steps = Array.from({ length: 5 }, (_, i) => bigRow(`r${i}`, 3.5 * MiB));
    const list = issues({ name: 'x', steps: [...steps, { ...row, id: 'r0' }] });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ field: '(root)' });
    expect(list[0]!.message).toMatch(
      /17\.5 MiB \(\d+ bytes\) serialized; the limit is 16 MiB \(maxDefinitionBytes/,
    );
  });

  it('exactly at maxDefinitionBytes passes; one byte more is refused (limits configurable)', () => {
    const def = { name: 'x', steps: [row] };
    const size = jsonBytes(def);
    expect(validateDefinition(def, catalog, { limits: { maxDefinitionBytes: size } }).ok).toBe(true);
    const r = validateDefinition(def, catalog, { limits: { maxDefinitionBytes: size - 1 } });
    expect(r.ok ? [] : r.issues.map((i) => i.field)).toEqual(['(root)']);
  });

  it('counts serialized UTF-8 bytes, not characters', () => {
    expect(jsonBytes({ a: 'é' })).toBe(10); // {"a":"é"} with é as 2 bytes
    expect(jsonBytes({ a: '😀' })).toBe(12);
    expect(jsonBytes('€')).toBe(5);
  });

  it('more than maxSteps steps: names steps and the limit', () => {
    const steps = Array.from({ length: 1001 }, (_, i) => ({ ...row, id: `r${i}` }));
    const list = issues({ name: 'x', steps });
    expect(list).toEqual([
      { field: 'steps', message: '1001 steps; the limit is 1000 (maxSteps, POLYSAGA_MAX_STEPS)' },
    ]);
    expect(validateDefinition({ name: 'x', steps: steps.slice(0, 1000) }, catalog).ok).toBe(true);
    expect(
      validateDefinition({ name: 'x', steps: steps.slice(0, 3) }, catalog, { limits: { maxSteps: 2 } }).ok,
    ).toBe(false);
  });

  it('a step payload over maxStepPayloadBytes: names the step, the field and the limit', () => {
    const list = issues({ name: 'x', steps: [row, bigRow('big', 4 * MiB)] });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ stepId: 'big', stepIndex: 1, field: 'payload' });
    expect(list[0]!.message).toMatch(
      /^is 4\.0 MiB \(\d+ bytes\) serialized; the limit per step is 4 MiB \(maxStepPayloadBytes/,
    );
    expect(validateDefinition({ name: 'x', steps: [bigRow('ok', 4 * MiB - 100)] }, catalog).ok).toBe(true);
  });

  it('an inline compensation payload counts against the same per-step limit', () => {
    const list = issues(
      {
        name: 'x',
        steps: [
          {
            ...row,
            compensation: { operation: 'insert', payload: { table: 't', values: { b: 'y'.repeat(2000) } } },
          },
        ],
      },
      { maxStepPayloadBytes: 1000 },
    );
    expect(list.map((i) => i.field)).toEqual(['compensation.payload']);
  });

  it('formats sizes for people', () => {
    expect(formatBytes(16 * MiB)).toBe('16 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12)).toBe('12 bytes');
  });
});

describe('timeouts and retry intervals', () => {
  it('durationToMs', () => {
    expect(durationToMs('0s')).toBe(0);
    expect(durationToMs('1500ms')).toBe(1500);
    expect(durationToMs('2m')).toBe(120_000);
    expect(durationToMs('1h')).toBe(3_600_000);
  });

  it('a timeout of zero is refused, naming the field and the minimum', () => {
    const list = issues({ name: 'x', steps: [row, row2, { ...row, id: 'r3', timeout: '0s' }] });
    expect(list).toEqual([
      {
        stepId: 'r3',
        stepIndex: 2,
        field: 'timeout',
        message: 'must be at least 1s (minStepTimeoutMs, POLYSAGA_MIN_STEP_TIMEOUT), got 0s',
      },
    ]);
    expect(new InvalidDefinitionError(list).message).toBe(
      'invalid saga definition: step "r3" (steps[2]) field "timeout": must be at least 1s (minStepTimeoutMs, POLYSAGA_MIN_STEP_TIMEOUT), got 0s',
    );
  });

  it('a timeout below the minimum is refused (0ms, 999ms); 1s and 1000ms pass', () => {
    for (const timeout of ['0ms', '999ms'])
      expect(issues({ name: 'x', steps: [{ ...row, timeout }] }).map((i) => i.field)).toEqual(['timeout']);
    for (const timeout of ['1s', '1000ms', '2m'])
      expect(validateDefinition({ name: 'x', steps: [{ ...row, timeout }] }, catalog).ok).toBe(true);
  });

  it('the minimum is configurable', () => {
    const def = { name: 'x', steps: [{ ...row, timeout: '500ms' }] };
    expect(validateDefinition(def, catalog, { limits: { minStepTimeoutMs: 100 } }).ok).toBe(true);
    const r = validateDefinition({ name: 'x', steps: [{ ...row, timeout: '5s' }] }, catalog, {
      limits: { minStepTimeoutMs: 10_000 },
    });
    expect(r.ok ? '' : r.issues[0]!.message).toMatch(/must be at least 10s/);
  });

  it('retry intervals of zero are refused, naming the field', () => {
    const list = issues({
      name: 'x',
      steps: [{ ...row, retry: { initialInterval: '0s', maximumInterval: '0ms' } }],
    });
    expect(list).toEqual([
      expect.objectContaining({
        stepId: 'row',
        field: 'retry.initialInterval',
        message: 'must be greater than zero, got 0s',
      }),
      expect.objectContaining({
        stepId: 'row',
        field: 'retry.maximumInterval',
        message: 'must be greater than zero, got 0ms',
      }),
    ]);
  });

  it('a maximum interval below the initial one is refused', () => {
    const [own] = issues({
      name: 'x',
      steps: [{ ...row, retry: { initialInterval: '10s', maximumInterval: '2s' } }],
    });
    expect(own).toMatchObject({ stepId: 'row', field: 'retry.maximumInterval' });
    expect(own!.message).toBe('must not be below retry.initialInterval (10s), got 2s');
    for (const retry of [
      { initialInterval: '10s' },
      { maximumInterval: '500ms' },
      { initialInterval: '2s', maximumInterval: '2s' },
      { initialInterval: '1m', maximumInterval: '2m' },
    ])
      expect(validateDefinition({ name: 'x', steps: [{ ...row, retry }] }, catalog).ok).toBe(true);
  });

  it("one interval alone is compared with the backend's other default, naming the field", () => {
    // postgres steps retry from 500ms up to 10s by default.
    expect(issues({ name: 'x', steps: [{ ...row, retry: { initialInterval: '1m' } }] })).toEqual([
      expect.objectContaining({
        stepId: 'row',
        field: 'retry.initialInterval',
        message:
          'must not be above the maximum interval of backend "postgres" (10s), got 1m; set retry.maximumInterval too',
      }),
    ]);
    expect(issues({ name: 'x', steps: [{ ...row, retry: { maximumInterval: '100ms' } }] })).toEqual([
      expect.objectContaining({
        stepId: 'row',
        field: 'retry.maximumInterval',
        message:
          'must not be below the initial interval of backend "postgres" (500ms), got 100ms; set retry.initialInterval too',
      }),
    ]);
    // A backend defined elsewhere: its own `retry` option counts (maximum 2s here).
    const own: Catalog = {
      ...catalog,
      backends: {
        ...catalog.backends,
        custom: {
          ...catalog.backends.custom!,
          retry: { retry: { initialInterval: '1s', maximumInterval: '2s' } },
        },
      },
    };
    const poke = { id: 'poke', backend: 'custom', operation: 'poke', payload: {} };
    const r = validateDefinition({ name: 'x', steps: [{ ...poke, retry: { initialInterval: '5s' } }] }, own);
    expect(r.ok ? [] : r.issues.map((i) => [i.field, i.message])).toEqual([
      [
        'retry.initialInterval',
        'must not be above the maximum interval of backend "custom" (2s), got 5s; set retry.maximumInterval too',
      ],
    ]);
    expect(
      validateDefinition({ name: 'x', steps: [{ ...poke, retry: { initialInterval: '2s' } }] }, own).ok,
    ).toBe(true);
  });
});

describe('example definitions', () => {
  for (const name of ['document-ingest', 'wiki-generation']) {
    it(`examples/${name}.json validates against the built-in catalog`, () => {
      const def: unknown = JSON.parse(
        readFileSync(new URL(`../../../examples/${name}.json`, import.meta.url), 'utf8'),
      );
      const r = validateDefinition(def, builtinCatalog);
      expect(r.ok ? [] : r.issues).toEqual([]);
    });
  }

  it('the seed compensation names are registered', () => {
    for (const n of ['relational_delete', 'graph_delete_node', 'vector_delete_chunks'])
      expect(builtinCatalog.compensations[n]).toBeDefined();
  });
});
