/**
 * A throw-away database per test file, so audit tests never clash with other suites running
 * against the same PostgreSQL. Fails fast, naming host:port, when PostgreSQL is unreachable.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config } from '../../../src/config/index.js';
import { createAuditPool } from '../../../src/audit/connection.js';

export interface TestDatabase {
  name: string;
  pool: pg.Pool;
  config: Config;
  /** A further pool on the same database (for concurrency tests); closed by drop(). */
  extraPool(): pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const base = loadConfig(process.env);
  const name = `polysaga_audit_${label}_${randomBytes(4).toString('hex')}`;
  const admin = createAuditPool(base.postgres, { max: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(
      `audit tests need PostgreSQL at ${base.postgres.host}:${base.postgres.port} (${(err as Error).message})`,
      { cause: err },
    );
  } finally {
    await admin.end();
  }
  const config: Config = { ...base, postgres: { ...base.postgres, database: name } };
  const pools: pg.Pool[] = [];
  const open = () => {
    const p = createAuditPool(config.postgres, { max: 10 });
    pools.push(p);
    return p;
  };
  return {
    name,
    pool: open(),
    config,
    extraPool: open,
    async drop() {
      await Promise.all(pools.map((p) => p.end()));
      const a = createAuditPool(base.postgres, { max: 1 });
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Column name → data type of a table in the test database. */
export async function columnTypes(pool: pg.Pool, table: string): Promise<Record<string, string>> {
  const r = await pool.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return Object.fromEntries(r.rows.map((x) => [x.column_name, x.data_type]));
}

/** A fingerprint of the schema objects polysaga owns: columns, indexes, views, functions, versions. */
export async function schemaSnapshot(pool: pg.Pool): Promise<string> {
  const q = async (sql: string) => JSON.stringify((await pool.query(sql)).rows);
  return [
    await q(`SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
              WHERE table_schema = current_schema() ORDER BY table_name, column_name`),
    await q(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
    ),
    await q(
      `SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = current_schema() ORDER BY table_name`,
    ),
    await q(
      `SELECT p.proname, md5(p.prosrc) FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 1`,
    ),
    await q(`SELECT version, name, checksum, applied_at FROM polysaga_schema_migrations ORDER BY version`),
    await q(
      `SELECT c.relname, c.oid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace ORDER BY 1`,
    ),
  ].join('\n');
}
