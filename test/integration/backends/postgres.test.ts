/**
 * postgres backend against the real PostgreSQL of the stack: every operation, its
 * compensation (run twice), the double-run idempotency check, conflicts and error mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createPgPool, PostgresAdapter, type PgPool } from '../../../src/backends/postgres/adapter.js';
import { createPostgresBackend } from '../../../src/backends/postgres/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

let pool: PgPool;
type JsonRow = { id: string; doc: unknown; tags: string[]; n: number };
let acts: ReturnType<typeof createStepActivities>;
const table = uniq('bk_docs');

async function rows(where = 'true', params: unknown[] = []) {
  return (await pool.query(`SELECT id, title, n FROM ${table} WHERE ${where} ORDER BY id`, params)).rows as {
    id: string;
    title: string;
    n: number | null;
  }[];
}

beforeAll(async () => {
  pool = createPgPool(loadConfig().postgres);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text UNIQUE, n int)`);
  acts = createStepActivities({
    catalog: builtinCatalog,
    backends: [createPostgresBackend(new PostgresAdapter(pool))],
  });
});

afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

describe('postgres backend (real PostgreSQL)', () => {
  it('insert: one row for two runs with the same key; relational_delete removes it, twice', async () => {
    const step = stepInput('postgres', 'insert', { table, values: { id: 'a1', title: 'hello', n: 1 } });
    const r1 = await acts.executeStep(step);
    const r2 = await acts.executeStep(step);
    expect(r2).toEqual(r1);
    expect(await rows('id = $1', ['a1'])).toEqual([{ id: 'a1', title: 'hello', n: 1 }]);
    expect(r1.result).toMatchObject({ table, before: null, after: { id: 'a1', title: 'hello', n: 1 } });
    const idem = await pool.query('SELECT status FROM polysaga_idempotency WHERE key = $1', [
      step.idempotencyKey,
    ]);
    expect(idem.rows).toEqual([{ status: 'done' }]);

    const comp = compensationInput(step, r1.result, 'relational_delete');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await rows('id = $1', ['a1'])).toEqual([]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('two concurrent runs with the same key (a retry racing the first attempt): one row, one result', async () => {
    const step = stepInput('postgres', 'insert', { table, values: { id: 'cc1', title: 'concurrent' } });
    const [a, b, c] = await Promise.all([
      acts.executeStep(step),
      acts.executeStep(step),
      acts.executeStep(step),
    ]);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(await rows('id = $1', ['cc1'])).toHaveLength(1);
  });

  it('update: before-image captured once; relational_restore puts it back, twice', async () => {
    await pool.query(`INSERT INTO ${table} (id, title, n) VALUES ('u1', 'old', 1)`);
    const step = stepInput('postgres', 'update', { table, key: { id: 'u1' }, set: { title: 'new', n: 2 } });
    const r1 = await acts.executeStep(step);
    const r2 = await acts.executeStep(step);
    // The retry must not capture our own write as the before-image.
    expect(r2.result.before).toEqual({ id: 'u1', title: 'old', n: 1 });
    expect(r1).toEqual(r2);
    expect(await rows('id = $1', ['u1'])).toEqual([{ id: 'u1', title: 'new', n: 2 }]);

    const comp = compensationInput(step, r1.result, 'relational_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await rows('id = $1', ['u1'])).toEqual([{ id: 'u1', title: 'old', n: 1 }]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('jsonb, array and timestamp columns round-trip through insert, update and restore', async () => {
    const rich = uniq('bk_rich');
    await pool.query(
      `CREATE TABLE ${rich} (id text PRIMARY KEY, doc jsonb, tags text[], at timestamptz, n int DEFAULT 7)`,
    );
    try {
      const ins = stepInput('postgres', 'insert', {
        table: rich,
        values: { id: 'j1', doc: { a: [1, 2], b: { c: 'd' } }, tags: ['x', 'y'], at: '2026-01-02T03:04:05Z' },
      });
      const r = await acts.executeStep(ins);
      const read = async () => (await pool.query<JsonRow>(`SELECT id, doc, tags, n FROM ${rich}`)).rows;
      // Columns not named keep their defaults.
      expect(await read()).toEqual([{ id: 'j1', doc: { a: [1, 2], b: { c: 'd' } }, tags: ['x', 'y'], n: 7 }]);
      const upd = stepInput('postgres', 'update', {
        table: rich,
        key: { id: 'j1' },
        set: { doc: [3, 4], tags: [] },
      });
      const u = await acts.executeStep(upd);
      expect(await read()).toEqual([{ id: 'j1', doc: [3, 4], tags: [], n: 7 }]);
      expect(await acts.compensateStep(compensationInput(upd, u.result, 'relational_restore'))).toEqual({
        outcome: 'undone',
      });
      expect(await read()).toEqual([{ id: 'j1', doc: { a: [1, 2], b: { c: 'd' } }, tags: ['x', 'y'], n: 7 }]);
      expect(await acts.compensateStep(compensationInput(ins, r.result, 'relational_delete'))).toEqual({
        outcome: 'undone',
      });
      expect(await read()).toEqual([]);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${rich}`);
    }
  });

  it('update that changes the key column: restored under the old key, twice', async () => {
    await pool.query(`INSERT INTO ${table} (id, title, n) VALUES ('k1', 'keyed', 1)`);
    const step = stepInput('postgres', 'update', { table, key: { id: 'k1' }, set: { id: 'k2', n: 2 } });
    const r = await acts.executeStep(step);
    expect(await rows('id IN ($1, $2)', ['k1', 'k2'])).toEqual([{ id: 'k2', title: 'keyed', n: 2 }]);
    const comp = compensationInput(step, r.result, 'relational_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await rows('id IN ($1, $2)', ['k1', 'k2'])).toEqual([{ id: 'k1', title: 'keyed', n: 1 }]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('upsert of a new row and of an existing row; relational_restore undoes both', async () => {
    const fresh = stepInput('postgres', 'upsert', { table, values: { id: 'p1', title: 'p-one', n: 1 } });
    const f1 = await acts.executeStep(fresh);
    await acts.executeStep(fresh);
    expect(f1.result.before).toBeNull();
    expect(await rows('id = $1', ['p1'])).toHaveLength(1);

    await pool.query(`INSERT INTO ${table} (id, title, n) VALUES ('p2', 'p-two', 5)`);
    const existing = stepInput('postgres', 'upsert', { table, values: { id: 'p2', title: 'p-two-b', n: 6 } });
    const e1 = await acts.executeStep(existing);
    expect(await acts.executeStep(existing)).toEqual(e1);
    expect(e1.result.before).toEqual({ id: 'p2', title: 'p-two', n: 5 });
    expect(await rows('id = $1', ['p2'])).toEqual([{ id: 'p2', title: 'p-two-b', n: 6 }]);

    for (const [s, r] of [
      [fresh, f1],
      [existing, e1],
    ] as const) {
      const comp = compensationInput(s, r.result, 'relational_restore');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    }
    expect(await rows('id IN ($1, $2)', ['p1', 'p2'])).toEqual([{ id: 'p2', title: 'p-two', n: 5 }]);
  });

  it('delete: before-image captured; relational_restore re-inserts it, twice', async () => {
    await pool.query(`INSERT INTO ${table} (id, title, n) VALUES ('d1', 'doomed', 7)`);
    const step = stepInput('postgres', 'delete', { table, key: { id: 'd1' } });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(r1.result.before).toEqual({ id: 'd1', title: 'doomed', n: 7 });
    expect(await rows('id = $1', ['d1'])).toEqual([]);

    const comp = compensationInput(step, r1.result, 'relational_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await rows('id = $1', ['d1'])).toEqual([{ id: 'd1', title: 'doomed', n: 7 }]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('a row changed by someone else since our write: the compensation reports a conflict', async () => {
    await pool.query(`INSERT INTO ${table} (id, title, n) VALUES ('c1', 'orig', 1)`);
    const step = stepInput('postgres', 'update', { table, key: { id: 'c1' }, set: { n: 2 } });
    const r = await acts.executeStep(step);
    await pool.query(`UPDATE ${table} SET n = 99 WHERE id = 'c1'`);
    await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 'relational_restore')),
      FailureTypes.Conflict,
    );
    expect(await rows('id = $1', ['c1'])).toEqual([{ id: 'c1', title: 'orig', n: 99 }]);

    const ins = stepInput('postgres', 'insert', { table, values: { id: 'c2', title: 'mine' } });
    const ri = await acts.executeStep(ins);
    await pool.query(`UPDATE ${table} SET title = 'theirs' WHERE id = 'c2'`);
    await expectFailure(
      acts.compensateStep(compensationInput(ins, ri.result, 'relational_delete')),
      FailureTypes.Conflict,
    );
    expect(await rows('id = $1', ['c2'])).toHaveLength(1);
  });

  it('an inline compensation runs as a forward operation', async () => {
    const step = stepInput('postgres', 'insert', { table, values: { id: 'i1', title: 'inline' } });
    const r = await acts.executeStep(step);
    const out = await acts.compensateStep(
      compensationInput(step, r.result, { operation: 'delete', payload: { table, key: { id: 'i1' } } }),
    );
    expect(out.outcome).toBe('undone');
    expect(await rows('id = $1', ['i1'])).toEqual([]);
  });

  describe('error mapping', () => {
    it('unique constraint violation (not a replay) → ConstraintViolation, non-retryable', async () => {
      await acts.executeStep(stepInput('postgres', 'insert', { table, values: { id: 'x1', title: 'dup' } }));
      const f = await expectFailure(
        acts.executeStep(stepInput('postgres', 'insert', { table, values: { id: 'x2', title: 'dup' } })),
        FailureTypes.ConstraintViolation,
      );
      expect(f.message).toContain('duplicate key');
      expect(await rows('id = $1', ['x2'])).toEqual([]);
    });

    it('unknown table → NotFound; unknown column → NotFound', async () => {
      await expectFailure(
        acts.executeStep(
          stepInput('postgres', 'insert', { table: uniq('no_such_table'), values: { id: 'z' } }),
        ),
        FailureTypes.NotFound,
      );
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'insert', { table, values: { id: 'z', nope: 1 } })),
        FailureTypes.NotFound,
      );
    });

    it('wrong value type → InvalidPayload; update of a missing row → NotFound', async () => {
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'insert', { table, values: { id: 'z', n: 'not a number' } })),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'update', { table, key: { id: 'missing' }, set: { n: 1 } })),
        FailureTypes.NotFound,
      );
    });

    it('unsafe identifiers and malformed payloads are rejected before any SQL → InvalidPayload', async () => {
      await expectFailure(
        acts.executeStep(
          stepInput('postgres', 'insert', { table: 'docs; DROP TABLE x', values: { id: 'z' } }),
        ),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'insert', { table, values: { 'id"--': 'z' } })),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'truncate', { table })),
        FailureTypes.UnknownOperation,
      );
      await expectFailure(
        acts.compensateStep(
          compensationInput(stepInput('postgres', 'insert', {}), {}, 'no_such_compensation'),
        ),
        FailureTypes.UnknownCompensation,
      );
    });

    it('the same idempotency key reused for another operation → Conflict', async () => {
      const key = uniq('reused');
      await acts.executeStep(stepInput('postgres', 'insert', { table, values: { id: 'r1' } }, key));
      await expectFailure(
        acts.executeStep(stepInput('postgres', 'delete', { table, key: { id: 'r1' } }, key)),
        FailureTypes.Conflict,
      );
    });
  });
});
