import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPool } from '../../../src/audit/connection.js';
import { createEventStore } from '../../../src/audit/event-store.js';
import {
  AuditDatabaseUnreachableError,
  loadMigrations,
  migrate,
  migrationStatus,
} from '../../../src/audit/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { columnTypes, createTestDatabase, schemaSnapshot, type TestDatabase } from './helpers.js';

const ALL_VERSIONS = loadMigrations().map((m) => m.version);

async function indexes(
  db: TestDatabase,
  table: string,
): Promise<Record<string, { def: string; valid: boolean }>> {
  const r = await db.pool.query<{ name: string; def: string; valid: boolean }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = to_regclass($1)`,
    [table],
  );
  return Object.fromEntries(r.rows.map((x) => [x.name, { def: x.def, valid: x.valid }]));
}

describe('migrate on a fresh database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('fresh');
  });
  afterAll(async () => db?.drop());

  it('creates the tables, indexes, views and records every version', async () => {
    const result = await migrate(db.pool);
    expect(result.applied.map((a) => a.version)).toEqual(ALL_VERSIONS);
    expect(result.version).toBe(Math.max(...ALL_VERSIONS));

    expect(await columnTypes(db.pool, 'uds3_saga_events')).toEqual({
      id: 'bigint',
      saga_id: 'text',
      run_id: 'text',
      seq: 'integer',
      step_id: 'text',
      status: 'text',
      saga_name: 'text',
      payload: 'jsonb',
      error: 'text',
      trace_id: 'text',
      attempt: 'integer',
      duration_ms: 'integer',
      created_at: 'timestamp with time zone',
    });
    // The shape the backends' write-ahead idempotency uses (src/backends/postgres/adapter.ts).
    expect(await columnTypes(db.pool, 'polysaga_idempotency')).toEqual({
      key: 'text',
      result: 'jsonb',
      created_at: 'timestamp with time zone',
      backend: 'text',
      operation: 'text',
      status: 'text',
      prepared: 'jsonb',
      updated_at: 'timestamp with time zone',
    });
    const idx = await indexes(db, 'uds3_saga_events');
    expect(idx.uds3_saga_events_saga_id_seq_key?.def).toMatch(/UNIQUE INDEX .* \(saga_id, seq\)/);
    expect(idx.uds3_saga_events_saga_id_idx?.def).toMatch(/\(saga_id\)$/);
    expect(idx.uds3_saga_events_status_created_at_idx?.def).toMatch(/\(status, created_at\)$/);

    const views = await db.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.views WHERE table_schema = current_schema() ORDER BY 1`,
    );
    expect(views.rows.map((r) => r.table_name)).toEqual([
      'polysaga_saga_metrics_daily',
      'polysaga_saga_metrics_hourly',
      'polysaga_saga_outcomes',
      'polysaga_saga_runs',
    ]);
    const versions = await db.pool.query<{ version: number }>(
      'SELECT version FROM polysaga_schema_migrations ORDER BY version',
    );
    expect(versions.rows.map((r) => r.version)).toEqual(ALL_VERSIONS);
  });

  it('a second run applies nothing and changes nothing', async () => {
    await db.pool.query(
      `INSERT INTO uds3_saga_events (saga_id, seq, status, payload) VALUES ('keep', 1, 'SAGA_STARTED', '{"a":1}')`,
    );
    const before = await schemaSnapshot(db.pool);
    const again = await migrate(db.pool);
    expect(again.applied).toEqual([]);
    expect(again.changed).toEqual([]);
    expect(await schemaSnapshot(db.pool)).toBe(before);
    const rows = await db.pool.query('SELECT saga_id, seq, status, payload FROM uds3_saga_events');
    expect(rows.rows).toEqual([{ saga_id: 'keep', seq: 1, status: 'SAGA_STARTED', payload: { a: 1 } }]);
    expect((await migrationStatus(db.pool)).pending).toEqual([]);
  });

  it('the unique (saga_id, seq) index rejects a second row for the same transition', async () => {
    await expect(
      db.pool.query(`INSERT INTO uds3_saga_events (saga_id, seq, status) VALUES ('keep', 1, 'STEP_PENDING')`),
    ).rejects.toMatchObject({ code: '23505' });
  });
});

describe('concurrent migrate runs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('concurrent');
  });
  afterAll(async () => db?.drop());

  it('five runs at once (two with concurrentIndexes) all succeed and apply each version once', async () => {
    const pools = [db.pool, db.extraPool(), db.extraPool(), db.extraPool(), db.extraPool()];
    const results = await Promise.all(pools.map((p, i) => migrate(p, { concurrentIndexes: i % 2 === 1 })));
    const appliedVersions = results.flatMap((r) => r.applied.map((a) => a.version)).sort((a, b) => a - b);
    expect(appliedVersions).toEqual(ALL_VERSIONS);
    const rows = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM polysaga_schema_migrations');
    expect(Number(rows.rows[0]?.n)).toBe(ALL_VERSIONS.length);
    const idx = await indexes(db, 'uds3_saga_events');
    expect(Object.values(idx).every((i) => i.valid)).toBe(true);
  });
});

describe('concurrentIndexes', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cic');
  });
  afterAll(async () => db?.drop());

  it('builds the index-only migration with CREATE INDEX CONCURRENTLY outside a transaction', async () => {
    // Build 0001 first, fill the table, and leave an INVALID index behind as an interrupted
    // concurrent build would: migrate must drop and rebuild it.
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-mig-'));
    const [first] = loadMigrations();
    writeFileSync(join(dir, '0001_saga_events.sql'), first?.sql ?? '');
    await migrate(db.pool, { migrationsDir: dir });
    await db.pool.query(
      `INSERT INTO uds3_saga_events (saga_id, seq, status) SELECT 's' || (g % 50), g, 'STEP_PENDING' FROM generate_series(1, 2000) g`,
    );
    await db.pool.query(
      `INSERT INTO uds3_saga_events (saga_id, seq, status) VALUES ('dup', 1, 'A'), ('dup', 1, 'B')`,
    );
    await expect(
      db.pool.query(
        'CREATE UNIQUE INDEX CONCURRENTLY uds3_saga_events_saga_id_seq_key ON uds3_saga_events (saga_id, seq)',
      ),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await indexes(db, 'uds3_saga_events')).uds3_saga_events_saga_id_seq_key?.valid).toBe(false);
    await db.pool.query(`DELETE FROM uds3_saga_events WHERE saga_id = 'dup' AND status = 'B'`);

    const logs: string[] = [];
    const result = await migrate(db.pool, { concurrentIndexes: true, log: (l) => logs.push(l) });
    expect(result.applied.find((a) => a.version === 2)).toEqual({
      version: 2,
      name: 'saga_events_indexes',
      concurrently: true,
    });
    expect(result.applied.filter((a) => a.version !== 2).every((a) => !a.concurrently)).toBe(true);
    expect(logs.some((l) => l.includes('dropping invalid index uds3_saga_events_saga_id_seq_key'))).toBe(
      true,
    );
    const idx = await indexes(db, 'uds3_saga_events');
    expect(idx.uds3_saga_events_saga_id_seq_key).toMatchObject({ valid: true });
    expect(idx.uds3_saga_events_saga_id_idx).toMatchObject({ valid: true });
    expect(idx.uds3_saga_events_status_created_at_idx).toMatchObject({ valid: true });
  });
});

describe('upgrading a database with an older uds3_saga_events', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('upgrade');
    // The shape of the first seed's table: serial id, json payload as text, no run_id, seq,
    // saga_name, trace_id, attempt or duration, and no uniqueness.
    await db.pool.query(`
      CREATE TABLE uds3_saga_events (
        id serial PRIMARY KEY,
        saga_id varchar(64) NOT NULL,
        step_id text,
        status text NOT NULL,
        payload text,
        error text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX idx_uds3_saga_events_saga_id ON uds3_saga_events (saga_id);
      INSERT INTO uds3_saga_events (saga_id, step_id, status, payload, created_at) VALUES
        ('old-1', NULL,  'PENDING', '{"x":1}', '2025-01-01T10:00:00Z'),
        ('old-1', 'row', 'SUCCESS', NULL,      '2025-01-01T10:00:02Z'),
        ('old-1', 'row', 'PENDING', '{"x":2}', '2025-01-01T10:00:01Z'),
        ('old-2', 'row', 'FAIL',    '{}',      '2025-01-01T11:00:00Z');
    `);
  });
  afterAll(async () => db?.drop());

  it('adds the missing columns, converts types, back-fills seq and adds the uniqueness', async () => {
    const result = await migrate(db.pool);
    expect(result.applied.map((a) => a.version)).toEqual(ALL_VERSIONS);
    const types = await columnTypes(db.pool, 'uds3_saga_events');
    expect(types).toMatchObject({
      id: 'integer',
      saga_id: 'text',
      run_id: 'text',
      seq: 'integer',
      saga_name: 'text',
      payload: 'jsonb',
      trace_id: 'text',
      attempt: 'integer',
      duration_ms: 'integer',
    });
    const rows = await db.pool.query(
      'SELECT saga_id, seq, step_id, status, payload FROM uds3_saga_events ORDER BY saga_id, seq',
    );
    expect(rows.rows).toEqual([
      { saga_id: 'old-1', seq: 1, step_id: null, status: 'PENDING', payload: { x: 1 } },
      { saga_id: 'old-1', seq: 2, step_id: 'row', status: 'PENDING', payload: { x: 2 } },
      { saga_id: 'old-1', seq: 3, step_id: 'row', status: 'SUCCESS', payload: {} },
      { saga_id: 'old-2', seq: 1, step_id: 'row', status: 'FAIL', payload: {} },
    ]);
    const idx = await indexes(db, 'uds3_saga_events');
    expect(idx.uds3_saga_events_saga_id_seq_key?.def).toMatch(/UNIQUE/);
    expect(idx.idx_uds3_saga_events_saga_id).toBeDefined();
  });

  it('the upgraded table takes idempotent writes, and a second migrate changes nothing', async () => {
    const store = createEventStore({ pool: db.pool });
    const ev = {
      sagaId: 'old-1',
      runId: 'r',
      seq: 4,
      stepId: null,
      status: 'SAGA_COMMITTED' as const,
      sagaName: 'legacy',
      traceId: 't',
    };
    expect(await store.write(ev)).toEqual({ inserted: true });
    expect(await store.write(ev)).toEqual({ inserted: false });
    expect((await store.mapping()).kind).toBe('columns');
    const before = await schemaSnapshot(db.pool);
    expect((await migrate(db.pool)).applied).toEqual([]);
    expect(await schemaSnapshot(db.pool)).toBe(before);
    const n = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM uds3_saga_events WHERE saga_id = 'old-1'`,
    );
    expect(Number(n.rows[0]?.n)).toBe(4);
  });
});

describe('"already exists" counts as success', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('exists');
  });
  afterAll(async () => db?.drop());

  it('a migration creating objects that are already there is recorded as applied', async () => {
    await db.pool.query(
      'CREATE TABLE widgets (id int PRIMARY KEY); CREATE INDEX widgets_id_idx ON widgets (id)',
    );
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-mig-'));
    writeFileSync(
      join(dir, '0001_widgets.sql'),
      `-- no IF NOT EXISTS on purpose
       CREATE TABLE widgets (id int PRIMARY KEY);
       CREATE INDEX widgets_id_idx ON widgets (id);
       ALTER TABLE widgets ADD COLUMN id int;
       CREATE TABLE gadgets (id int, note text DEFAULT 'a;b');
       DO $body$ BEGIN PERFORM 1; END $body$;`,
    );
    const result = await migrate(db.pool, { migrationsDir: dir });
    expect(result.applied).toEqual([{ version: 1, name: 'widgets', concurrently: false }]);
    expect(await columnTypes(db.pool, 'gadgets')).toEqual({ id: 'integer', note: 'text' });
  });

  it('a failing statement rolls its migration back and names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-mig-'));
    // Version 1 is recorded by the test above; 5 applies, 6 fails.
    writeFileSync(join(dir, '0005_ok.sql'), 'CREATE TABLE IF NOT EXISTS ok_table (id int);');
    writeFileSync(join(dir, '0006_bad.sql'), 'CREATE TABLE half_done (id int); SELECT no_such_function();');
    await expect(migrate(db.pool, { migrationsDir: dir })).rejects.toThrow(/migration 0006_bad\.sql failed/);
    const t = await db.pool.query<{ t: string | null }>(`SELECT to_regclass('half_done')::text AS t`);
    expect(t.rows[0]?.t).toBeNull();
    const versions = await db.pool.query(
      'SELECT version, name FROM polysaga_schema_migrations ORDER BY version',
    );
    expect(versions.rows).toEqual([
      { version: 1, name: 'widgets' },
      { version: 5, name: 'ok' },
    ]);
  });
});

describe('unreachable PostgreSQL', () => {
  it('fails with one clear error naming host:port', async () => {
    const pool = createAuditPool({ ...loadConfig(process.env).postgres, host: '127.0.0.1', port: 1 });
    try {
      const err = await migrate(pool).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditDatabaseUnreachableError);
      expect((err as Error).message).toMatch(
        /^cannot reach PostgreSQL at 127\.0\.0\.1:1 \([^)]*ECONNREFUSED[^)]*\); check POSTGRES_HOST/,
      );
    } finally {
      await pool.end();
    }
  });

  it('SAGA_REL_HOST overrides the host and is the one named', async () => {
    const config = loadConfig({
      ...process.env,
      POSTGRES_HOST: '127.0.0.1',
      SAGA_REL_HOST: '127.0.0.2',
      POSTGRES_PORT: '1',
    });
    expect(config.postgres.host).toBe('127.0.0.2');
    const pool = createAuditPool(config.postgres);
    try {
      await expect(migrate(pool)).rejects.toThrow(/cannot reach PostgreSQL at 127\.0\.0\.2:1/);
    } finally {
      await pool.end();
    }
  });
});

describe('a schema of its own (search_path)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('schema');
  });
  afterAll(async () => db?.drop());

  it('migrates into the current schema and keeps other schemas untouched', async () => {
    await db.pool.query('CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b');
    const a = createAuditPool(db.config.postgres, { options: '-c search_path=tenant_a' });
    const b = createAuditPool(db.config.postgres, { options: '-c search_path=tenant_b' });
    try {
      const [ra, rb] = await Promise.all([migrate(a, { concurrentIndexes: true }), migrate(b)]);
      expect(ra.applied.map((x) => x.version)).toEqual(ALL_VERSIONS);
      expect(rb.applied.map((x) => x.version)).toEqual(ALL_VERSIONS);
      const tables = await db.pool.query<{ s: string; t: string }>(
        `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
          WHERE table_name IN ('uds3_saga_events', 'polysaga_schema_migrations') ORDER BY 1, 2`,
      );
      expect(tables.rows.map((r) => `${r.s}.${r.t}`)).toEqual([
        'tenant_a.polysaga_schema_migrations',
        'tenant_a.uds3_saga_events',
        'tenant_b.polysaga_schema_migrations',
        'tenant_b.uds3_saga_events',
      ]);
      await createEventStore({ pool: a }).write({
        sagaId: 's',
        runId: 'r',
        seq: 1,
        stepId: null,
        status: 'SAGA_STARTED',
        sagaName: 'n',
        traceId: 't',
      });
      const counts = await db.pool.query<{ a: string; b: string }>(
        'SELECT (SELECT count(*) FROM tenant_a.uds3_saga_events) AS a, (SELECT count(*) FROM tenant_b.uds3_saga_events) AS b',
      );
      expect(counts.rows[0]).toEqual({ a: '1', b: '0' });
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});

describe('upgrading an older table with a uuid saga_id, json payload, event_id key and no created_at', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('upgrade2');
    await db.pool.query(`
      CREATE TABLE uds3_saga_events (
        event_id bigserial PRIMARY KEY,
        saga_id uuid NOT NULL,
        step_id text,
        status text NOT NULL,
        payload json
      );
      INSERT INTO uds3_saga_events (saga_id, step_id, status, payload) VALUES
        ('00000000-0000-0000-0000-000000000001', 'a', 'PENDING', '{"k":[1,2]}'),
        ('00000000-0000-0000-0000-000000000001', 'a', 'SUCCESS', '{"k":[3]}');
    `);
  });
  afterAll(async () => db?.drop());

  it('upgrades in place, numbers the old rows and then takes text saga ids', async () => {
    await migrate(db.pool, { concurrentIndexes: true });
    expect(await columnTypes(db.pool, 'uds3_saga_events')).toMatchObject({
      event_id: 'bigint',
      saga_id: 'text',
      seq: 'integer',
      payload: 'jsonb',
      created_at: 'timestamp with time zone',
    });
    const rows = await db.pool.query(
      'SELECT saga_id, seq, status, payload FROM uds3_saga_events ORDER BY seq',
    );
    expect(rows.rows).toEqual([
      { saga_id: '00000000-0000-0000-0000-000000000001', seq: 1, status: 'PENDING', payload: { k: [1, 2] } },
      { saga_id: '00000000-0000-0000-0000-000000000001', seq: 2, status: 'SUCCESS', payload: { k: [3] } },
    ]);
    const store = createEventStore({ pool: db.pool });
    expect(await store.mapping()).toMatchObject({
      kind: 'columns',
      idColumn: 'event_id',
      uniqueSagaSeq: true,
    });
    const ev = {
      sagaId: 'doc-42',
      runId: 'r',
      seq: 1,
      stepId: null,
      status: 'SAGA_STARTED' as const,
      sagaName: 'n',
      traceId: 't',
    };
    expect(await store.write(ev)).toEqual({ inserted: true });
    expect(await store.write(ev)).toEqual({ inserted: false });
    expect((await store.read('doc-42')).map((e) => [e.id, e.seq, e.status])).toEqual([
      ['3', 1, 'SAGA_STARTED'],
    ]);
  });
});
