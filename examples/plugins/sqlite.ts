/**
 * Example plugin: a SQLite backend (better-sqlite3) and a custom compensation for the built-in
 * postgres backend. Load it with `polysaga worker --plugin examples/plugins/sqlite.ts` and the
 * same `--plugin` on `polysaga start|validate|verify` (see examples/plugins/README.md).
 *
 * The `sqlite` backend keeps JSON records in one table, `records (collection, id, data)`, of the
 * database file `SQLITE_PATH` (default `polysaga-example.sqlite` in the working directory):
 *
 * | operation | payload | result (kept on the compensation stack) | default compensation |
 * | --- | --- | --- | --- |
 * | insert | collection, id, data | before: null, after: data | sqlite_delete |
 * | put | collection, id, data | before-image, after | sqlite_restore |
 * | delete | collection, id | before-image, after: null | sqlite_restore |
 *
 * - At most one effect per idempotency key: the result is stored in `polysaga_idempotency` in
 *   the same transaction as the write; a retried step returns the stored result.
 * - Compensations compare before they undo: a record changed since the step is a conflict
 *   (ConflictError), a record already undone is `absent` (success).
 * - Errors: a constraint violation (insert of an existing id) is a permanent
 *   `polysaga.ConstraintViolation`; SQLITE_BUSY / SQLITE_LOCKED are retried; other SQLite
 *   errors are permanent.
 * - No guard targets: a step names a collection (a column value), never a table, so it cannot
 *   reach the plugin's own idempotency table.
 *
 * In your own project, import from 'polysaga/plugin' instead of '../../src/plugins/index.js'.
 */
import { resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { z } from 'zod';
import {
  ConflictError,
  defineBackend,
  definePlugin,
  FailureTypes,
  op,
  PermanentError,
  registerCompensation,
  type CompensateStepInput,
  type CompensateStepResult,
  type JsonObject,
} from '../../src/plugins/index.js';

// --- The pure half: payload schemas, operations, compensations, retry defaults -------------

const name = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower-case letters, digits or _');
const id = z.string().min(1).max(512);
const data = z.record(z.string(), z.json());

export const sqliteWritePayload = z.strictObject({ collection: name, id, data });
export const sqliteDeletePayload = z.strictObject({ collection: name, id });
type WritePayload = z.infer<typeof sqliteWritePayload>;
type DeletePayload = z.infer<typeof sqliteDeletePayload>;

/** What a step leaves on the compensation stack: the record before and after it. */
interface RecordChange extends JsonObject {
  collection: string;
  id: string;
  before: JsonObject | null;
  after: JsonObject | null;
}

const catalog = {
  name: 'sqlite',
  operations: {
    insert: {
      payload: sqliteWritePayload,
      defaultCompensation: 'sqlite_delete',
      description: 'Inserts a record (a constraint violation if the id exists in the collection).',
    },
    put: {
      payload: sqliteWritePayload,
      defaultCompensation: 'sqlite_restore',
      description: 'Writes a record, replacing any; the result holds the old one (before-image).',
    },
    delete: {
      payload: sqliteDeletePayload,
      defaultCompensation: 'sqlite_restore',
      description: 'Deletes a record; the result holds it (before-image).',
    },
  },
  compensations: {
    sqlite_delete: { description: 'Deletes the record a step inserted, unless it changed since.' },
    sqlite_restore: {
      description: 'Puts the old record back (or deletes a new one), unless it changed since.',
    },
  },
  // Local file writes: short timeout, quick retries (SQLITE_BUSY while another writer commits).
  retry: {
    startToCloseTimeout: '10s',
    retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5 },
  },
};

// --- The half that does I/O ----------------------------------------------------------------

/** The database file: `SQLITE_PATH`, else polysaga-example.sqlite in the working directory. */
export function sqlitePath(): string {
  return resolve(process.env.SQLITE_PATH ?? 'polysaga-example.sqlite');
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (collection, id)
  );
  CREATE TABLE IF NOT EXISTS polysaga_idempotency (
    key TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
  );`;

/** Opens (and creates) the database: WAL, so that readers do not block the worker's writes. */
export async function openSqlite(file = sqlitePath()): Promise<BetterSqlite3.Database> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  return db;
}

/** SQLite error → retried (busy, locked) or permanent (constraint violation, everything else). */
function mapError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return err; // transient
  // The worker prefixes the step's backend and operation (or compensation) itself.
  const message = `${(err as Error).message} (${code})`;
  if (code.startsWith('SQLITE_CONSTRAINT'))
    return new PermanentError(message, FailureTypes.ConstraintViolation, { cause: err });
  return new PermanentError(message, FailureTypes.Permanent, { cause: err });
}

function readRecord(db: BetterSqlite3.Database, collection: string, key: string): JsonObject | null {
  const row = db.prepare('SELECT data FROM records WHERE collection = ? AND id = ?').get(collection, key) as
    { data: string } | undefined;
  return row ? (JSON.parse(row.data) as JsonObject) : null;
}

/** better-sqlite3 is synchronous: its result (or its error) as a promise. */
const settle = <T>(f: () => T): Promise<T> => new Promise((resolve) => resolve(f()));

const same = (a: JsonObject | null, b: JsonObject | null) => JSON.stringify(a) === JSON.stringify(b);

/** The handlers over one open database. */
function sqliteHandlers(db: BetterSqlite3.Database) {
  /** Runs `write` once per idempotency key, in one transaction with the stored result. */
  const once = (key: string, operation: string, write: () => RecordChange): JsonObject => {
    const tx = db.transaction(() => {
      const done = db.prepare('SELECT result FROM polysaga_idempotency WHERE key = ?').get(key) as
        { result: string } | undefined;
      if (done) return JSON.parse(done.result) as JsonObject;
      const result = write();
      db.prepare('INSERT INTO polysaga_idempotency (key, operation, result) VALUES (?, ?, ?)').run(
        key,
        operation,
        JSON.stringify(result),
      );
      return result;
    });
    try {
      return tx.immediate();
    } catch (err) {
      throw mapError(err);
    }
  };
  const write = (collection: string, key: string, value: JsonObject | null) => {
    if (value === null)
      db.prepare('DELETE FROM records WHERE collection = ? AND id = ?').run(collection, key);
    else
      db.prepare(
        'INSERT INTO records (collection, id, data) VALUES (?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data',
      ).run(collection, key, JSON.stringify(value));
  };
  /** Puts `target` back if the record is still `expected`; `absent` if it is `target` already. */
  const undo = (change: RecordChange, target: JsonObject | null, what: string): CompensateStepResult => {
    try {
      return db
        .transaction((): CompensateStepResult => {
          const now = readRecord(db, change.collection, change.id);
          if (same(now, target)) return { outcome: 'absent' };
          if (!same(now, change.after))
            throw new ConflictError(
              `${what}: record ${change.collection}/${change.id} changed since the step; not overwritten`,
            );
          write(change.collection, change.id, target);
          return { outcome: 'undone' };
        })
        .immediate();
    } catch (err) {
      throw mapError(err);
    }
  };
  const changeOf = (result: JsonObject): RecordChange => {
    if (typeof result.collection !== 'string' || typeof result.id !== 'string' || !('after' in result))
      throw new PermanentError('sqlite: the step result is not a record change', FailureTypes.InvalidPayload);
    return result as RecordChange;
  };
  return {
    operations: {
      insert: op<WritePayload>((p, ctx) =>
        settle(() =>
          once(ctx.idempotencyKey, 'insert', () => {
            db.prepare('INSERT INTO records (collection, id, data) VALUES (?, ?, ?)').run(
              p.collection,
              p.id,
              JSON.stringify(p.data),
            );
            return { collection: p.collection, id: p.id, before: null, after: p.data };
          }),
        ),
      ),
      put: op<WritePayload>((p, ctx) =>
        settle(() =>
          once(ctx.idempotencyKey, 'put', () => {
            const before = readRecord(db, p.collection, p.id);
            write(p.collection, p.id, p.data);
            return { collection: p.collection, id: p.id, before, after: p.data };
          }),
        ),
      ),
      delete: op<DeletePayload>((p, ctx) =>
        settle(() =>
          once(ctx.idempotencyKey, 'delete', () => {
            const before = readRecord(db, p.collection, p.id);
            write(p.collection, p.id, null);
            return { collection: p.collection, id: p.id, before, after: null };
          }),
        ),
      ),
    },
    compensations: {
      sqlite_delete: (input: CompensateStepInput) =>
        settle(() => undo(changeOf(input.result), null, 'sqlite_delete')),
      sqlite_restore: (input: CompensateStepInput) =>
        settle(() => {
          const change = changeOf(input.result);
          return undo(change, change.before, 'sqlite_restore');
        }),
    },
  };
}

/** The databases opened by this module, by file (the worker's, and verify's reads). */
const open = new Map<string, Promise<BetterSqlite3.Database>>();
function database(file = sqlitePath()): Promise<BetterSqlite3.Database> {
  let db = open.get(file);
  if (!db) {
    db = openSqlite(file);
    open.set(file, db);
  }
  return db;
}

/** The `sqlite` backend: catalog, connect, and what `polysaga verify` reads. */
export const sqliteBackend = defineBackend({
  ...catalog,
  connect: async () => {
    const file = sqlitePath();
    const db = await database(file);
    return {
      ...sqliteHandlers(db),
      close: () => {
        open.delete(file);
        db.close();
      },
    };
  },
  snapshot: {
    // Every operation touches one record: the collection and id of its payload.
    targets: (_operation, p) => [{ kind: 'record', collection: String(p.collection), id: String(p.id) }],
    describe: (t) => `sqlite ${t.collection}/${t.id}`,
    connect: async () => {
      const db = await database();
      return { read: (t) => settle(() => readRecord(db, t.collection, t.id)) };
    },
  },
});

// --- A custom compensation for a built-in backend -------------------------------------------

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * `postgres_mark_deleted`: undoes a postgres `insert` by setting the row's `deleted_at` instead
 * of deleting it (a soft delete; the table needs a `deleted_at timestamptz` column). Runs on the
 * worker's postgres step pool. A row already marked, or gone, is `absent`.
 */
registerCompensation(
  'postgres_mark_deleted',
  async (input, { adapters }) => {
    const r = input.result as { table?: unknown; afterKey?: unknown };
    if (typeof r.table !== 'string' || typeof r.afterKey !== 'object' || r.afterKey === null)
      throw new PermanentError(
        'postgres_mark_deleted: the step result has no table and key (use it on postgres insert)',
        FailureTypes.InvalidPayload,
      );
    const key = Object.entries(r.afterKey as Record<string, unknown>);
    const table = r.table.split('.').map(quoteIdent).join('.');
    const where = key.map(([column], i) => `${quoteIdent(column)} = $${i + 1}`).join(' AND ');
    const res = await adapters.stepPool.query(
      `UPDATE ${table} SET deleted_at = now() WHERE ${where} AND deleted_at IS NULL`,
      key.map(([, value]) => value),
    );
    return { outcome: res.rowCount === 1 ? 'undone' : 'absent' };
  },
  {
    backend: 'postgres',
    description: 'Marks the row a postgres insert wrote as deleted (sets deleted_at) instead of deleting it.',
  },
);

export default definePlugin({ name: 'sqlite-example', backends: [sqliteBackend] });
