/**
 * Migration runner for `migrations/*.sql` (`polysaga migrate`).
 *
 * Why a small runner of our own instead of node-pg-migrate: the migrations are plain,
 * idempotent SQL that operators can read and run with psql; we need exactly three things a
 * generic tool does not give together: (1) "already exists" counts as success, so databases
 * that already hold the tables from an older version (the earlier Python orchestrator)
 * are upgraded rather than refused, (2) index files that can be built with
 * `CREATE INDEX CONCURRENTLY` outside a transaction on demand, and (3) a session advisory lock
 * taken by polling, which stays safe together with CONCURRENTLY (see {@link acquireLock}).
 * That is ~200 lines with no further dependency; the DBOS Transact runner is the model.
 *
 * Version table `polysaga_schema_migrations(version, name, checksum, applied_at)`: a file whose
 * version is recorded is skipped, so running migrate twice changes nothing.
 */
import { sleep } from '../sleep.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { asUnreachable, connectClient } from './connection.js';

/** Header line that marks a file holding only CREATE INDEX statements. */
export const CONCURRENT_INDEXES_MARKER = '-- polysaga:concurrent-indexes';

/** SQLSTATEs meaning "the object is already there": counted as success. */
export const ALREADY_EXISTS_CODES: ReadonlySet<string> = new Set([
  '42P07', // duplicate_table (relations, indexes, sequences, views)
  '42701', // duplicate_column
  '42710', // duplicate_object (constraints, types, triggers)
  '42P06', // duplicate_schema
  '42723', // duplicate_function
  '42P04', // duplicate_database
]);

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
  /** The file holds only CREATE INDEX statements (see {@link CONCURRENT_INDEXES_MARKER}). */
  indexOnly: boolean;
}

export interface MigrateOptions {
  /** Build the index-only migrations with CREATE INDEX CONCURRENTLY, outside a transaction. */
  concurrentIndexes?: boolean;
  /** Folder of the `NNNN_name.sql` files; default: the repository's `migrations/`. */
  migrationsDir?: string;
  /** How long to wait for another migrate holding the lock (ms, default 300 000). */
  lockTimeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface MigrateResult {
  /** Migrations applied by this call, in order. */
  applied: { version: number; name: string; concurrently: boolean }[];
  /** Recorded migrations whose file changed since they were applied (not re-run). */
  changed: { version: number; name: string }[];
  /** Highest recorded version after the run. */
  version: number;
}

/** Locates the repository's migrations folder from src/audit (tsx) or dist/src/audit (build). */
export function defaultMigrationsDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../../migrations', '../../../migrations']) {
    const dir = join(here, up);
    if (existsSync(join(dir, '0001_saga_events.sql'))) return dir;
  }
  throw new Error(`migrations folder not found above ${here}`);
}

/** Reads and orders `NNNN_name.sql` files. Duplicate versions are an error. */
export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!m?.[1] || !m[2]) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    const version = Number(m[1]);
    if (out.some((x) => x.version === version))
      throw new Error(`two migrations with version ${version} in ${dir}`);
    out.push({
      version,
      name: m[2],
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      indexOnly: sql.split('\n', 1)[0]?.trim() === CONCURRENT_INDEXES_MARKER,
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Splits SQL text into statements at top-level semicolons, respecting quotes, double-quoted
 * identifiers, dollar quoting ($$ … $$, $tag$ … $tag$) and comments. Comment-only chunks are dropped.
 */
export function splitSqlStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let meaningful = false;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (meaningful && text) out.push(text);
    meaningful = false;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      meaningful = true;
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      i = j + 1;
    } else if (c === '$') {
      meaningful = true;
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      i++;
      start = i;
    } else {
      if (c !== undefined && !/\s/.test(c)) meaningful = true;
      i++;
    }
  }
  push(sql.length);
  return out;
}

/** Rewrites `CREATE [UNIQUE] INDEX` into `CREATE [UNIQUE] INDEX CONCURRENTLY`. */
export function toConcurrent(statement: string): { sql: string; indexName: string | null } {
  const re =
    /^(\s*(?:--[^\n]*\n\s*)*CREATE\s+(?:UNIQUE\s+)?INDEX)\s+(?!CONCURRENTLY)(IF\s+NOT\s+EXISTS\s+)?("?[\w$]+"?)/i;
  const m = re.exec(statement);
  if (!m)
    throw new Error(`not a CREATE INDEX statement in an index-only migration: ${statement.slice(0, 80)}`);
  const sql = statement.replace(
    re,
    (_all, head: string, ine: string | undefined, name: string) => `${head} CONCURRENTLY ${ine ?? ''}${name}`,
  );
  return { sql, indexName: m[3] ? m[3].replace(/"/g, '') : null };
}

function sqlState(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Takes the migration lock of the current database and schema. It polls
 * pg_try_advisory_lock instead of blocking in pg_advisory_lock: a session blocked inside that
 * call holds a snapshot, and CREATE INDEX CONCURRENTLY (run by the lock holder) waits for every
 * older snapshot, which would deadlock two concurrent `migrate --concurrently` runs.
 */
async function acquireLock(client: pg.PoolClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const r = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(hashtext('polysaga:migrate'), hashtext(coalesce(current_schema(), ''))) AS ok`,
    );
    if (r.rows[0]?.ok) return;
    if (Date.now() > deadline)
      throw new Error(`another polysaga migrate holds the migration lock for more than ${timeoutMs} ms`);
    await sleep(delay);
  }
}

async function releaseLock(client: pg.PoolClient): Promise<void> {
  await client.query(
    `SELECT pg_advisory_unlock(hashtext('polysaga:migrate'), hashtext(coalesce(current_schema(), '')))`,
  );
}

/** Runs one statement; an "already exists" error counts as success. Inside a transaction a savepoint keeps it usable. */
async function runTolerant(client: pg.PoolClient, statement: string, inTransaction: boolean): Promise<void> {
  if (inTransaction) await client.query('SAVEPOINT polysaga_stmt');
  try {
    await client.query(statement);
    if (inTransaction) await client.query('RELEASE SAVEPOINT polysaga_stmt');
  } catch (err) {
    const code = sqlState(err);
    if (code === undefined || !ALREADY_EXISTS_CODES.has(code)) throw err;
    if (inTransaction) await client.query('ROLLBACK TO SAVEPOINT polysaga_stmt');
  }
}

/**
 * Applies the pending migrations to the database (and current schema) of `pool`.
 *
 * Side effects: creates/alters `uds3_saga_events`, `polysaga_idempotency`, the monitoring views
 * and `polysaga_schema_migrations`. Safe to run concurrently (advisory lock) and repeatedly
 * (version table; idempotent SQL). Each ordinary migration runs in its own transaction; with
 * `concurrentIndexes`, index-only migrations run statement by statement as CREATE INDEX
 * CONCURRENTLY, after dropping an INVALID index left by an interrupted concurrent build.
 *
 * @throws AuditDatabaseUnreachableError naming host:port when PostgreSQL cannot be reached.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = loadMigrations(options.migrationsDir);
  const log = options.log ?? (() => {});
  const client = await connectClient(pool);
  let locked = false;
  try {
    await acquireLock(client, options.lockTimeoutMs ?? 300_000);
    locked = true;
    await runTolerant(
      client,
      `CREATE TABLE IF NOT EXISTS polysaga_schema_migrations (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
      false,
    );
    const recorded = new Map(
      (
        await client.query<{ version: number; checksum: string }>(
          'SELECT version, checksum FROM polysaga_schema_migrations',
        )
      ).rows.map((r) => [r.version, r.checksum]),
    );
    const result: MigrateResult = { applied: [], changed: [], version: 0 };
    for (const m of migrations) {
      const done = recorded.get(m.version);
      if (done !== undefined) {
        if (done !== m.checksum) result.changed.push({ version: m.version, name: m.name });
        continue;
      }
      const concurrently = m.indexOnly && options.concurrentIndexes === true;
      log(`applying ${m.file}${concurrently ? ' (CREATE INDEX CONCURRENTLY)' : ''}`);
      if (concurrently) {
        for (const statement of splitSqlStatements(m.sql)) {
          const { sql, indexName } = toConcurrent(statement);
          if (indexName) {
            const invalid = await client.query(
              `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
              [indexName],
            );
            if (invalid.rowCount) {
              log(`dropping invalid index ${indexName} left by an interrupted build`);
              await client.query(`DROP INDEX CONCURRENTLY IF EXISTS "${indexName.replace(/"/g, '""')}"`);
            }
          }
          await runTolerant(client, sql, false);
        }
        await client.query(
          'INSERT INTO polysaga_schema_migrations (version, name, checksum) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING',
          [m.version, m.name, m.checksum],
        );
      } else {
        await client.query('BEGIN');
        try {
          for (const statement of splitSqlStatements(m.sql)) await runTolerant(client, statement, true);
          await client.query(
            'INSERT INTO polysaga_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
            [m.version, m.name, m.checksum],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${m.file} failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
        }
      }
      result.applied.push({ version: m.version, name: m.name, concurrently });
    }
    const v = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM polysaga_schema_migrations',
    );
    result.version = v.rows[0]?.v ?? 0;
    return result;
  } catch (err) {
    throw asUnreachable(pool, err);
  } finally {
    if (locked) await releaseLock(client).catch(() => {});
    client.release();
  }
}

/** Versions recorded in the database and files not yet applied (for `polysaga migrate --status`). */
export async function migrationStatus(
  pool: pg.Pool,
  options: Pick<MigrateOptions, 'migrationsDir'> = {},
): Promise<{
  applied: { version: number; name: string; appliedAt: Date }[];
  pending: { version: number; name: string }[];
}> {
  const migrations = loadMigrations(options.migrationsDir);
  const client = await connectClient(pool);
  try {
    const exists = await client.query<{ t: string | null }>(
      `SELECT to_regclass('polysaga_schema_migrations')::text AS t`,
    );
    const rows = exists.rows[0]?.t
      ? (
          await client.query<{ version: number; name: string; applied_at: Date }>(
            'SELECT version, name, applied_at FROM polysaga_schema_migrations ORDER BY version',
          )
        ).rows
      : [];
    const done = new Set(rows.map((r) => r.version));
    return {
      applied: rows.map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at })),
      pending: migrations
        .filter((m) => !done.has(m.version))
        .map((m) => ({ version: m.version, name: m.name })),
    };
  } finally {
    client.release();
  }
}
