import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinCatalog } from '../../../src/saga/catalog/index.js';
import type { Catalog } from '../../../src/saga/catalog/types.js';
import { InvalidDefinitionError } from '../../../src/saga/errors.js';
import { assertValidDefinition, validateDefinition } from '../../../src/saga/validate.js';

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

function issues(def: unknown) {
  const r = validateDefinition(def, catalog);
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
