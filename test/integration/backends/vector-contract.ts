/**
 * The vector contract suite: the same tests for every {@link VectorEngine} (Qdrant via the REST
 * double or a real Qdrant, Chroma via the stack's real server). Each test asserts the effect in
 * the engine, runs the compensation twice, and runs the step twice with the same key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorEngine, StoredPoint } from '../../../src/backends/vector/adapter.js';
import { createPgPool, PgIdempotencyStore, type PgPool } from '../../../src/backends/postgres/adapter.js';
import { createVectorBackend } from '../../../src/backends/vector/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { loadConfig } from '../../../src/config/index.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

export interface EngineFixture {
  engine: VectorEngine;
  close(): Promise<void>;
}

const chunk = (
  id: string,
  vector: number[],
  metadata: Record<string, string | number | boolean> = {},
  document?: string,
) => ({
  id,
  vector,
  metadata,
  ...(document !== undefined ? { document } : {}),
});

function expectClose(actual: StoredPoint[], expected: ReturnType<typeof chunk>[]) {
  const a = [...actual].sort((x, y) => x.id.localeCompare(y.id));
  const e = [...expected].sort((x, y) => x.id.localeCompare(y.id));
  expect(a.map((p) => p.id)).toEqual(e.map((p) => p.id));
  a.forEach((p, i) => {
    const want = e[i]!;
    expect(p.metadata).toEqual(want.metadata);
    expect(p.document).toEqual(want.document ?? null);
    // Qdrant normalises vectors for cosine distance: compare directions.
    const norm = (v: number[]) => Math.hypot(...v);
    const cos =
      p.vector.reduce((s, v, j) => s + v * want.vector[j]!, 0) / (norm(p.vector) * norm(want.vector));
    expect(cos).toBeGreaterThan(0.9999);
  });
}

/** Registers the contract suite for one engine. */
export function describeVectorContract(label: string, makeEngine: () => Promise<EngineFixture>): void {
  describe(`vector backend contract: ${label}`, () => {
    let fixture: EngineFixture;
    let pool: PgPool;
    let acts: ReturnType<typeof createStepActivities>;
    let engine: VectorEngine;
    const collection = uniq('bkvec').replace(/_/g, '-');

    beforeAll(async () => {
      fixture = await makeEngine();
      engine = fixture.engine;
      pool = createPgPool(loadConfig().postgres);
      acts = createStepActivities({
        catalog: builtinCatalog,
        backends: [createVectorBackend(engine, new PgIdempotencyStore(pool))],
      });
    });
    afterAll(async () => {
      await pool?.end();
      await fixture?.close();
    });

    it('upsert: one set of points for two runs; vector_delete_chunks removes them, twice', async () => {
      const points = [
        chunk('doc-1:0', [0.1, 0.2, 0.3], { doc: 'doc-1', n: 0 }, 'first chunk'),
        chunk('doc-1:1', [0.3, 0.2, 0.1], { doc: 'doc-1', n: 1 }, 'second chunk'),
        chunk('doc-1:2', [0.5, 0.5, 0.5], { doc: 'doc-1', n: 2, final: true }),
      ];
      const step = stepInput('vector', 'upsert', { collection, points });
      const r1 = await acts.executeStep(step);
      await engine.upsert(collection, [
        { id: 'doc-1:0', vector: [1, 0, 0], metadata: { doc: 'doc-1', n: 0 }, document: 'changed' },
      ]);
      // The retry returns the recorded result and does not overwrite the later change.
      expect(await acts.executeStep(step)).toEqual(r1);
      expect((await engine.get(collection, ['doc-1:0']))[0]?.document).toBe('changed');
      await engine.upsert(collection, [{ ...points[0]!, document: 'first chunk' }]);
      expectClose(await engine.find(collection, { doc: 'doc-1' }), points);
      expect(r1.result).toMatchObject({ collection, ids: ['doc-1:0', 'doc-1:1', 'doc-1:2'], before: [] });

      const comp = compensationInput(step, r1.result, 'vector_delete_chunks');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expect(await engine.find(collection, { doc: 'doc-1' })).toEqual([]);
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    });

    it('upsert over existing points: before-image restored by vector_delete_chunks, twice', async () => {
      const old = chunk('doc-2:0', [1, 2, 3], { doc: 'doc-2', v: 1 }, 'old text');
      await engine.upsert(collection, [{ ...old, document: 'old text' }]);
      const step = stepInput('vector', 'upsert', {
        collection,
        points: [
          chunk('doc-2:0', [3, 2, 1], { doc: 'doc-2', v: 2 }, 'new text'),
          chunk('doc-2:1', [1, 1, 1], { doc: 'doc-2', v: 2 }),
        ],
      });
      const r = await acts.executeStep(step);
      expect(await acts.executeStep(step)).toEqual(r);
      expect((r.result.before as unknown[]).length).toBe(1);
      const comp = compensationInput(step, r.result, 'vector_delete_chunks');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expectClose(await engine.find(collection, { doc: 'doc-2' }), [old]);
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    });

    it('delete by ids: one delete for two runs; vector_restore_points re-inserts, twice', async () => {
      const pts = [
        chunk('doc-3:0', [0, 1, 0], { doc: 'doc-3' }, 'a'),
        chunk('doc-3:1', [0, 0, 1], { doc: 'doc-3' }, 'b'),
      ];
      await engine.upsert(
        collection,
        pts.map((p) => ({ ...p, document: p.document ?? null })),
      );
      const step = stepInput('vector', 'delete', {
        collection,
        ids: ['doc-3:0', 'doc-3:1', 'doc-3:missing'],
      });
      const r = await acts.executeStep(step);
      await engine.upsert(collection, [{ ...pts[0]!, document: 'a' }]);
      expect(await acts.executeStep(step)).toEqual(r);
      expect((await engine.get(collection, ['doc-3:0'])).length).toBe(1); // the retry deleted nothing
      await engine.delete(collection, ['doc-3:0']);
      expect(await engine.find(collection, { doc: 'doc-3' })).toEqual([]);

      const comp = compensationInput(step, r.result, 'vector_restore_points');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expectClose(await engine.find(collection, { doc: 'doc-3' }), pts);
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    });

    it('delete by filter removes only matching points; restored, twice', async () => {
      const keep = chunk('doc-4:keep', [1, 0, 1], { doc: 'doc-4', lang: 'en' });
      const drop = [
        chunk('doc-4:a', [1, 1, 0], { doc: 'doc-4', lang: 'de' }),
        chunk('doc-4:b', [0, 1, 1], { doc: 'doc-4', lang: 'de' }),
      ];
      await engine.upsert(
        collection,
        [keep, ...drop].map((p) => ({ ...p, document: null })),
      );
      const step = stepInput('vector', 'delete', { collection, filter: { doc: 'doc-4', lang: 'de' } });
      const r = await acts.executeStep(step);
      expect(await acts.executeStep(step)).toEqual(r);
      expectClose(await engine.find(collection, { doc: 'doc-4' }), [keep]);
      const comp = compensationInput(step, r.result, 'vector_restore_points');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expectClose(await engine.find(collection, { doc: 'doc-4' }), [keep, ...drop]);
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    });

    it('a point changed since our write: the compensation reports a conflict and leaves it', async () => {
      const step = stepInput('vector', 'upsert', {
        collection,
        points: [chunk('doc-5:0', [1, 2, 2], { doc: 'doc-5' })],
      });
      const r = await acts.executeStep(step);
      await engine.upsert(collection, [
        { id: 'doc-5:0', vector: [1, 2, 2], metadata: { doc: 'doc-5', edited: true }, document: null },
      ]);
      await expectFailure(
        acts.compensateStep(compensationInput(step, r.result, 'vector_delete_chunks')),
        FailureTypes.Conflict,
      );
      expect((await engine.get(collection, ['doc-5:0']))[0]?.metadata).toEqual({
        doc: 'doc-5',
        edited: true,
      });
    });

    it('error mapping: wrong dimension and malformed payloads → InvalidPayload', async () => {
      await expectFailure(
        acts.executeStep(stepInput('vector', 'upsert', { collection, points: [chunk('bad', [1, 2, 3, 4])] })),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(stepInput('vector', 'delete', { collection })),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(stepInput('vector', 'upsert', { collection, points: [{ id: 'x', vector: [] }] })),
        FailureTypes.InvalidPayload,
      );
    });
  });
}
