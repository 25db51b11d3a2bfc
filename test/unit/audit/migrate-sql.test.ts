import { describe, expect, it } from 'vitest';
import {
  CONCURRENT_INDEXES_MARKER,
  loadMigrations,
  splitSqlStatements,
  toConcurrent,
} from '../../../src/audit/migrate.js';

describe('splitSqlStatements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = `
      -- a comment; with a semicolon
      CREATE TABLE t (a text DEFAULT 'x;y', "we;ird" int);
      /* block; comment */
      DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;
      CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $fn$ SELECT 1; $fn$;
      SELECT 'it''s; fine'
      -- trailing comment only;
    `;
    const parts = splitSqlStatements(sql);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toMatch(/CREATE TABLE t \(a text DEFAULT 'x;y', "we;ird" int\)$/);
    expect(parts[1]).toMatch(/^\/\* block; comment \*\/\s+DO \$\$ BEGIN PERFORM 1; PERFORM 2; END \$\$$/);
    expect(parts[2]).toBe('CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $fn$ SELECT 1; $fn$');
    expect(parts[3]).toMatch(/^SELECT 'it''s; fine'/);
  });

  it('splits every shipped migration into statements that each carry SQL', () => {
    for (const m of loadMigrations()) {
      const parts = splitSqlStatements(m.sql);
      expect(parts.length, m.file).toBeGreaterThan(0);
      for (const p of parts) expect(p.replace(/--[^\n]*\n/g, '').trim(), m.file).not.toBe('');
    }
  });
});

describe('toConcurrent', () => {
  it('inserts CONCURRENTLY and returns the index name', () => {
    expect(toConcurrent('CREATE UNIQUE INDEX IF NOT EXISTS a_key ON t (a, b)')).toEqual({
      sql: 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS a_key ON t (a, b)',
      indexName: 'a_key',
    });
    expect(toConcurrent('-- why\ncreate index b_idx on t (b)')).toEqual({
      sql: '-- why\ncreate index CONCURRENTLY b_idx on t (b)',
      indexName: 'b_idx',
    });
  });

  it('refuses anything but CREATE INDEX', () => {
    expect(() => toConcurrent('ALTER TABLE t ADD COLUMN c int')).toThrow(/not a CREATE INDEX statement/);
  });
});

describe('loadMigrations', () => {
  it('orders the shipped migrations and marks only index files as concurrent-capable', () => {
    const ms = loadMigrations();
    expect(ms.map((m) => m.version)).toEqual([...ms.map((m) => m.version)].sort((a, b) => a - b));
    expect(ms[0]?.file).toBe('0001_saga_events.sql');
    for (const m of ms.filter((x) => x.indexOnly)) {
      expect(m.sql.startsWith(CONCURRENT_INDEXES_MARKER)).toBe(true);
      for (const s of splitSqlStatements(m.sql)) expect(() => toConcurrent(s)).not.toThrow();
    }
    expect(ms.find((m) => m.file === '0002_saga_events_indexes.sql')?.indexOnly).toBe(true);
  });
});
