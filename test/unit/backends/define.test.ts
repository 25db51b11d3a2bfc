/** defineBackend, catalogOf and the built-in backends defined through them (no servers needed). */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinCatalog, builtinCatalogs } from '../../../src/backends/catalog.js';
import { builtinBackends, createBuiltinBackends } from '../../../src/backends/index.js';
import { connectBackend, defineBackend, toBackend } from '../../../src/backends/define.js';
import { op } from '../../../src/backends/types.js';
import type { Adapters } from '../../../src/backends/connect.js';
import { catalogOf } from '../../../src/saga/catalog.js';
import {
  BACKEND_STEP_OPTIONS,
  NON_RETRYABLE_FAILURE_TYPES,
  stepActivityOptions,
} from '../../../src/saga/activity-options.js';
import { assertValidDefinition } from '../../../src/saga/validate.js';

const notePayload = z.object({ id: z.string().min(1), text: z.string() });

function notesBackend(store: Map<string, string>, closed: string[]) {
  return defineBackend({
    name: 'notes',
    operations: {
      put: { payload: notePayload, defaultCompensation: 'notes_delete', description: 'Writes a note.' },
    },
    compensations: { notes_delete: { description: 'Deletes the note a step wrote.' } },
    retry: { startToCloseTimeout: '3s', retry: { maximumAttempts: 2 } },
    connect: () => ({
      operations: {
        put: op<z.infer<typeof notePayload>>((p) => {
          store.set(p.id, p.text);
          return Promise.resolve({ id: p.id });
        }),
      },
      compensations: {
        notes_delete: (input) =>
          Promise.resolve({ outcome: store.delete(input.result.id as string) ? 'undone' : 'absent' }),
      },
      close: () => void closed.push('notes'),
    }),
  });
}

describe('defineBackend', () => {
  it('splits a definition into its pure catalog and handlers that run', async () => {
    const store = new Map<string, string>();
    const closed: string[] = [];
    const notes = notesBackend(store, closed);
    expect(notes.catalog).toEqual({
      name: 'notes',
      operations: notes.operations,
      compensations: notes.compensations,
      retry: { startToCloseTimeout: '3s', retry: { maximumAttempts: 2 } },
    });
    const { backend, close } = await connectBackend(notes, { adapters: {} as Omit<Adapters, 'close'> });
    const ctx = {
      sagaId: 's',
      stepId: 'a',
      traceId: 't',
      backend: 'notes',
      operation: 'put',
      idempotencyKey: 's:a',
    };
    await expect(backend.operations.put!({ id: 'n1', text: 'hello' } as never, ctx)).resolves.toEqual({
      id: 'n1',
    });
    expect(store.get('n1')).toBe('hello');
    const undone = await backend.compensations.notes_delete!({
      sagaId: 's',
      stepId: 'a',
      backend: 'notes',
      compensation: 'notes_delete',
      payload: { id: 'n1', text: 'hello' },
      result: { id: 'n1' },
      idempotencyKey: 's:a',
    } as never);
    expect(undone).toEqual({ outcome: 'undone' });
    expect(store.has('n1')).toBe(false);
    await close();
    expect(closed).toEqual(['notes']);
  });

  it('refuses a bad name, and handlers that do not match the catalog, naming each one', () => {
    expect(() =>
      defineBackend({
        name: 'My Store',
        operations: {},
        compensations: {},
        connect: () => ({ operations: {}, compensations: {} }),
      }),
    ).toThrow('backend name "My Store" must match');
    const notes = notesBackend(new Map(), []);
    expect(() =>
      toBackend(notes, {
        operations: { get: op(() => Promise.resolve({})) },
        compensations: { notes_delete: () => Promise.resolve({ outcome: 'absent' }) },
      }),
    ).toThrow(
      'backend "notes": operation "put" has no handler; operation "get" has a handler but is not in the catalog',
    );
  });

  it('a client catalog with the defined backend accepts its steps and its compensation', () => {
    const notes = notesBackend(new Map(), []);
    const catalog = catalogOf([...builtinCatalogs, notes.catalog]);
    const def = {
      name: 'note-saga',
      steps: [
        { id: 'note', backend: 'notes', operation: 'put', payload: { id: 'n1', text: 'x' } },
        { id: 'row', backend: 'postgres', operation: 'insert', payload: { table: 't', values: { id: 1 } } },
      ],
    };
    expect(() => assertValidDefinition(def, builtinCatalog)).toThrow(/notes/);
    const normalized = assertValidDefinition(def, catalog);
    expect(normalized.steps[0]!.compensation).toBe('notes_delete');
    // The backend's retry option travels with its steps; built-in steps are unchanged.
    const [note, row] = normalized.steps;
    expect(note!.defaults).toEqual({ startToCloseTimeout: '3s', retry: { maximumAttempts: 2 } });
    expect(row).not.toHaveProperty('defaults');
    const options = stepActivityOptions(note!);
    expect(options.startToCloseTimeout).toBe('3s');
    expect(options.retry?.maximumAttempts).toBe(2);
    expect(options.retry?.nonRetryableErrorTypes).toEqual(NON_RETRYABLE_FAILURE_TYPES);
    expect(stepActivityOptions({ ...note!, timeout: '9s', retry: { maximumAttempts: 4 } })).toMatchObject({
      startToCloseTimeout: '9s',
      retry: { maximumAttempts: 4 },
    });
    expect(stepActivityOptions(row!)).toEqual(stepActivityOptions({ ...row!, backend: 'postgres' }));
  });

  it('catalogOf refuses a backend or a compensation defined twice', () => {
    const notes = notesBackend(new Map(), []);
    expect(() => catalogOf([notes.catalog, notes.catalog])).toThrow('backend "notes" is defined twice');
    expect(() => catalogOf([{ ...notes.catalog, name: 'other' }, notes.catalog])).toThrow(
      'compensation "notes_delete" is defined by both other and notes',
    );
  });
});

describe('the built-in backends', () => {
  it('are defined with defineBackend, their retry defaults being the workflow’s', () => {
    expect(builtinBackends.map((b) => b.name)).toEqual(['postgres', 'neo4j', 's3', 'vector', 'kv', 'http']);
    for (const b of builtinBackends) {
      expect(b.catalog.operations).toBe(builtinCatalogs.find((c) => c.name === b.name)!.operations);
      expect(b.retry).toBe(BACKEND_STEP_OPTIONS[b.name]);
    }
    expect(Object.keys(BACKEND_STEP_OPTIONS).sort()).toEqual(builtinBackends.map((b) => b.name).sort());
  });

  it('have a handler for every operation and compensation of the built-in catalog', () => {
    // Handlers close over the adapters: building them does not touch the (absent) clients.
    const backends = createBuiltinBackends({} as Omit<Adapters, 'close'>);
    for (const [name, spec] of Object.entries(builtinCatalog.backends)) {
      const backend = backends.find((b) => b.name === name)!;
      expect(Object.keys(backend.operations).sort()).toEqual(Object.keys(spec.operations).sort());
    }
    const compensations = backends.flatMap((b) => Object.keys(b.compensations)).sort();
    expect(compensations).toEqual(Object.keys(builtinCatalog.compensations).sort());
  });
});
