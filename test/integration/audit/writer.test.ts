import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditActivities } from '../../../src/activities/audit.js';
import { createAuditPool } from '../../../src/audit/connection.js';
import {
  AuditDatabaseUnreachableError,
  createEventStore,
  detectEventTableMapping,
  migrate,
  readEvents,
  REDACTED,
} from '../../../src/audit/index.js';
import { FailureTypes, type EventStatus, type SagaEventInput } from '../../../src/saga/contracts.js';
import { createTestDatabase, type TestDatabase } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('writer');
  await migrate(db.pool);
});
afterAll(async () => db?.drop());

const event = (
  sagaId: string,
  seq: number,
  status: EventStatus,
  extra: Partial<SagaEventInput> = {},
): SagaEventInput => ({
  sagaId,
  runId: 'run-1',
  seq,
  stepId: status.startsWith('STEP') || status.startsWith('COMPENSATION') ? 'row' : null,
  status,
  sagaName: 'document-ingest',
  traceId: 'trace-1',
  ...extra,
});

describe('recordEvent on uds3_saga_events', () => {
  it('writes every column of the transition', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    await recordEvent(
      event('all-cols', 3, 'STEP_FAIL', {
        payload: { table: 'documents' },
        error: 'boom',
        attempt: 2,
        durationMs: 12.6,
      }),
    );
    const r = await db.pool.query(
      `SELECT saga_id, run_id, seq, step_id, status, saga_name, payload, error, trace_id, attempt, duration_ms,
              created_at > now() - interval '1 minute' AS fresh
         FROM uds3_saga_events WHERE saga_id = 'all-cols'`,
    );
    expect(r.rows).toEqual([
      {
        saga_id: 'all-cols',
        run_id: 'run-1',
        seq: 3,
        step_id: 'row',
        status: 'STEP_FAIL',
        saga_name: 'document-ingest',
        payload: { table: 'documents' },
        error: 'boom',
        trace_id: 'trace-1',
        attempt: 2,
        duration_ms: 13,
        fresh: true,
      },
    ]);
  });

  it('a retried write is a no-op that keeps the first row', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    await recordEvent(event('retry', 1, 'STEP_PENDING', { payload: { n: 1 }, attempt: 1 }));
    const first = await db.pool.query(`SELECT id, created_at FROM uds3_saga_events WHERE saga_id = 'retry'`);
    // the activity retried (or the workflow replayed after a worker crash)
    await recordEvent(event('retry', 1, 'STEP_PENDING', { payload: { n: 2 }, attempt: 2 }));
    const rows = await db.pool.query(
      `SELECT id, created_at, payload, attempt FROM uds3_saga_events WHERE saga_id = 'retry'`,
    );
    expect(rows.rows).toEqual([{ ...first.rows[0], payload: { n: 1 }, attempt: 1 }]);
  });

  it('twenty concurrent writes of the same transition leave exactly one row', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => recordEvent(event('race', 7, 'STEP_SUCCESS', { payload: { i } }))),
    );
    const n = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM uds3_saga_events WHERE saga_id = 'race'`,
    );
    expect(Number(n.rows[0]?.n)).toBe(1);
  });

  it('redacts sensitive payload fields, case-insensitively and at any depth', async () => {
    const { recordEvent } = createAuditActivities({
      pool: db.pool,
      config: { sensitiveFields: ['password', 'apiKey', 'token'] },
    });
    await recordEvent(
      event('redact', 1, 'STEP_PENDING', {
        payload: {
          table: 'users',
          PassWord: 'hunter2',
          values: { name: 'ann', APIKEY: 'k-1', nested: [{ token: 't-1', keep: 1 }, 'token'] },
          token: { deep: 'object replaced as a whole' },
        },
      }),
    );
    const r = await db.pool.query<{ payload: unknown; txt: string }>(
      `SELECT payload, payload::text AS txt FROM uds3_saga_events WHERE saga_id = 'redact'`,
    );
    expect(r.rows[0]?.payload).toEqual({
      table: 'users',
      PassWord: REDACTED,
      values: { name: 'ann', APIKEY: REDACTED, nested: [{ token: REDACTED, keep: 1 }, 'token'] },
      token: REDACTED,
    });
    expect(r.rows[0]?.txt).not.toMatch(/hunter2|k-1|t-1|replaced/);
  });

  it('rejects an invalid event as non-retryable and writes nothing', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    const err = await recordEvent(event('bad', 1, 'NOT_A_STATUS' as EventStatus)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ nonRetryable: true, type: FailureTypes.InvalidPayload });
    await expect(recordEvent(event('bad', -1, 'SAGA_STARTED'))).rejects.toMatchObject({ nonRetryable: true });
    const n = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM uds3_saga_events WHERE saga_id = 'bad'`,
    );
    expect(Number(n.rows[0]?.n)).toBe(0);
  });

  it('readEvents returns the trail ordered by seq, whatever the write order', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    for (const seq of [3, 1, 2]) {
      await recordEvent(
        event(
          'ordered',
          seq,
          (['SAGA_STARTED', 'STEP_PENDING', 'STEP_SUCCESS'] as const)[seq - 1] ?? 'SAGA_STARTED',
        ),
      );
    }
    const events = await readEvents(db.pool, 'ordered');
    expect(events.map((e) => [e.seq, e.status])).toEqual([
      [1, 'SAGA_STARTED'],
      [2, 'STEP_PENDING'],
      [3, 'STEP_SUCCESS'],
    ]);
    expect(events[0]).toMatchObject({
      sagaId: 'ordered',
      runId: 'run-1',
      sagaName: 'document-ingest',
      traceId: 'trace-1',
      payload: {},
    });
    expect(events[0]?.id).toMatch(/^\d+$/);
    expect(events[0]?.createdAt).toBeInstanceOf(Date);
    expect(await readEvents(db.pool, 'no-such-saga')).toEqual([]);
  });

  it('says to run migrate when the table is missing, and recovers once it exists', async () => {
    const store = createEventStore({ pool: db.pool, table: 'not_yet_there' });
    await expect(store.write(event('late', 1, 'SAGA_STARTED'))).rejects.toThrow(
      /not_yet_there does not exist; run `polysaga migrate`/,
    );
    await db.pool.query('CREATE TABLE not_yet_there (LIKE uds3_saga_events INCLUDING ALL)');
    expect(await store.write(event('late', 1, 'SAGA_STARTED'))).toEqual({ inserted: true });
  });
});

describe('PostgreSQL unreachable while recording', () => {
  it('recordEvent and readEvents fail with a retryable error naming host:port', async () => {
    const pool = createAuditPool({ ...db.config.postgres, host: '127.0.0.1', port: 1 });
    try {
      const { recordEvent } = createAuditActivities({ pool, config: db.config });
      const err = await recordEvent(event('down', 1, 'SAGA_STARTED')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditDatabaseUnreachableError);
      expect(err).not.toBeInstanceOf(ApplicationFailure); // Temporal retries it
      await expect(readEvents(pool, 'down')).rejects.toThrow(/cannot reach PostgreSQL at 127\.0\.0\.1:1/);
    } finally {
      await pool.end();
    }
  });
});

describe('tolerant writer: tables that differ from polysaga’s', () => {
  it('a text primary key named event_id without default, no seq column and no uniqueness', async () => {
    await db.pool.query(`
      CREATE TABLE legacy_pk_events (
        event_id text PRIMARY KEY,
        saga_id text NOT NULL,
        step_id text,
        status text NOT NULL,
        payload jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    const mapping = await detectEventTableMapping(db.pool, 'legacy_pk_events');
    expect(mapping).toMatchObject({
      kind: 'columns',
      idColumn: 'event_id',
      generatedKey: { column: 'event_id', strategy: 'saga-seq-text' },
      uniqueSagaSeq: false,
      columns: {
        sagaId: 'saga_id',
        stepId: 'step_id',
        status: 'status',
        payload: 'payload',
        error: 'error',
        createdAt: 'created_at',
      },
    });
    const { recordEvent } = createAuditActivities({
      pool: db.pool,
      config: { sensitiveFields: ['secret'] },
      table: 'legacy_pk_events',
    });
    const ev = event('pk-saga', 2, 'STEP_FAIL', {
      payload: { secret: 's', a: 1 },
      error: 'x',
      attempt: 3,
      durationMs: 40,
    });
    await recordEvent(ev);
    await recordEvent(ev); // retried
    await Promise.all([1, 2, 3].map(() => recordEvent(event('pk-saga', 1, 'STEP_PENDING'))));
    const rows = await db.pool.query(
      `SELECT event_id, saga_id, step_id, status, payload, error FROM legacy_pk_events ORDER BY event_id`,
    );
    expect(rows.rows).toEqual([
      {
        event_id: 'pk-saga:1',
        saga_id: 'pk-saga',
        step_id: 'row',
        status: 'STEP_PENDING',
        payload: {
          _polysaga: {
            runId: 'run-1',
            seq: 1,
            sagaName: 'document-ingest',
            traceId: 'trace-1',
            attempt: null,
            durationMs: null,
          },
        },
        error: null,
      },
      {
        event_id: 'pk-saga:2',
        saga_id: 'pk-saga',
        step_id: 'row',
        status: 'STEP_FAIL',
        payload: {
          secret: REDACTED,
          a: 1,
          _polysaga: {
            runId: 'run-1',
            seq: 2,
            sagaName: 'document-ingest',
            traceId: 'trace-1',
            attempt: 3,
            durationMs: 40,
          },
        },
        error: 'x',
      },
    ]);
    const back = await readEvents(db.pool, 'pk-saga', { table: 'legacy_pk_events' });
    expect(back.map((e) => ({ ...e, createdAt: e.createdAt instanceof Date }))).toEqual([
      {
        id: 'pk-saga:1',
        sagaId: 'pk-saga',
        runId: 'run-1',
        seq: 1,
        stepId: 'row',
        status: 'STEP_PENDING',
        sagaName: 'document-ingest',
        payload: {},
        error: null,
        traceId: 'trace-1',
        attempt: null,
        durationMs: null,
        createdAt: true,
      },
      {
        id: 'pk-saga:2',
        sagaId: 'pk-saga',
        runId: 'run-1',
        seq: 2,
        stepId: 'row',
        status: 'STEP_FAIL',
        sagaName: 'document-ingest',
        payload: { secret: REDACTED, a: 1 },
        error: 'x',
        traceId: 'trace-1',
        attempt: 3,
        durationMs: 40,
        createdAt: true,
      },
    ]);
  });

  it('a uuid primary key named event_id with a default and a seq column, no uniqueness', async () => {
    await db.pool.query(`
      CREATE TABLE legacy_uuid_events (
        event_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        saga_id uuid NOT NULL,
        seq int,
        status varchar(40) NOT NULL,
        payload json,
        ts timestamp DEFAULT now()
      )`);
    const store = createEventStore({ pool: db.pool, table: 'legacy_uuid_events' });
    const sagaId = '6f1c2a9e-1b7d-4c55-9a59-2f9a3f1f0c11';
    const ev = event(sagaId, 1, 'SAGA_STARTED', { payload: { k: 'v' } });
    expect(await store.write(ev)).toEqual({ inserted: true });
    expect(await store.write(ev)).toEqual({ inserted: false });
    const rows = await db.pool.query(
      `SELECT saga_id::text, seq, status, payload::jsonb AS payload, ts IS NOT NULL AS has_ts FROM legacy_uuid_events`,
    );
    expect(rows.rows).toEqual([
      {
        saga_id: sagaId,
        seq: 1,
        status: 'SAGA_STARTED',
        payload: {
          k: 'v',
          _polysaga: {
            runId: 'run-1',
            stepId: null,
            sagaName: 'document-ingest',
            error: null,
            traceId: 'trace-1',
            attempt: null,
            durationMs: null,
          },
        },
        has_ts: true,
      },
    ]);
    const back = await store.read(sagaId);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({
      sagaId,
      seq: 1,
      runId: 'run-1',
      payload: { k: 'v' },
    });
    expect(back[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('only a JSON data column: the whole event is stored as one JSON object', async () => {
    await db.pool.query(`
      CREATE TABLE legacy_json_events (
        id serial PRIMARY KEY,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    const mapping = await detectEventTableMapping(db.pool, 'legacy_json_events');
    expect(mapping).toMatchObject({
      kind: 'json',
      dataColumn: 'data',
      idColumn: 'id',
      createdAtColumn: 'created_at',
    });
    const { recordEvent } = createAuditActivities({
      pool: db.pool,
      config: { sensitiveFields: ['password'] },
      table: 'legacy_json_events',
    });
    const ev = event('json-saga', 1, 'STEP_PENDING', {
      payload: { values: { password: 'p', id: 7 } },
      attempt: 1,
    });
    await Promise.all([recordEvent(ev), recordEvent(ev), recordEvent(ev)]);
    await recordEvent(event('json-saga', 2, 'STEP_SUCCESS'));
    const rows = await db.pool.query<{ data: Record<string, unknown> }>(
      'SELECT data FROM legacy_json_events ORDER BY id',
    );
    expect(rows.rows).toHaveLength(2);
    expect(rows.rows[0]?.data).toMatchObject({
      sagaId: 'json-saga',
      runId: 'run-1',
      seq: 1,
      stepId: 'row',
      status: 'STEP_PENDING',
      sagaName: 'document-ingest',
      traceId: 'trace-1',
      payload: { values: { password: REDACTED, id: 7 } },
      error: null,
      attempt: 1,
      durationMs: null,
    });
    const back = await readEvents(db.pool, 'json-saga', { table: 'legacy_json_events' });
    expect(back.map((e) => [e.id, e.seq, e.status, e.payload])).toEqual([
      ['1', 1, 'STEP_PENDING', { values: { password: REDACTED, id: 7 } }],
      ['2', 2, 'STEP_SUCCESS', {}],
    ]);
  });

  it('a text `data` column and a text key without default', async () => {
    await db.pool.query(`CREATE TABLE legacy_text_events (event_key varchar(200) PRIMARY KEY, data text)`);
    const store = createEventStore({ pool: db.pool, table: 'legacy_text_events' });
    const ev = event('text-saga', 5, 'SAGA_COMMITTED');
    expect(await store.write(ev)).toEqual({ inserted: true });
    expect(await store.write(ev)).toEqual({ inserted: false });
    const rows = await db.pool.query<{ event_key: string; data: string }>(
      'SELECT event_key, data FROM legacy_text_events',
    );
    expect(rows.rows.map((r) => [r.event_key, (JSON.parse(r.data) as { status: string }).status])).toEqual([
      ['text-saga:5', 'SAGA_COMMITTED'],
    ]);
    expect((await store.read('text-saga'))[0]).toMatchObject({
      seq: 5,
      status: 'SAGA_COMMITTED',
    });
    expect((await store.read('text-saga'))[0]?.createdAt).toBeInstanceOf(Date);
  });

  it('an explicit column mapping wins over detection', async () => {
    await db.pool.query(`
      CREATE TABLE custom_events (pk bigserial PRIMARY KEY, saga_ref text NOT NULL, n int NOT NULL, kind text NOT NULL, body jsonb,
                                  UNIQUE (saga_ref, n))`);
    const store = createEventStore({
      pool: db.pool,
      table: 'custom_events',
      mapping: { columns: { sagaId: 'saga_ref', seq: 'n', status: 'kind', payload: 'body' } },
    });
    const m = await store.mapping();
    expect(m).toMatchObject({ kind: 'columns', uniqueSagaSeq: true, idColumn: 'pk' });
    const ev = event('custom', 1, 'SAGA_STARTED', { payload: { a: 1 } });
    expect(await store.write(ev)).toEqual({ inserted: true });
    expect(await store.write(ev)).toEqual({ inserted: false });
    const rows = await db.pool.query('SELECT saga_ref, n, kind, body FROM custom_events');
    expect(rows.rows).toEqual([
      {
        saga_ref: 'custom',
        n: 1,
        kind: 'SAGA_STARTED',
        body: {
          a: 1,
          _polysaga: {
            runId: 'run-1',
            stepId: null,
            sagaName: 'document-ingest',
            error: null,
            traceId: 'trace-1',
            attempt: null,
            durationMs: null,
          },
        },
      },
    ]);
  });

  it('a table it cannot map is refused with the reason', async () => {
    await db.pool.query('CREATE TABLE unrelated (id int PRIMARY KEY, title text)');
    await expect(detectEventTableMapping(db.pool, 'unrelated')).rejects.toThrow(
      /neither a saga id column .* nor a JSON column/,
    );
    await db.pool.query('CREATE TABLE strict_events (saga_id text, status text, tenant text NOT NULL)');
    await expect(detectEventTableMapping(db.pool, 'strict_events')).rejects.toThrow(
      /column tenant is NOT NULL without a default/,
    );
  });
});
