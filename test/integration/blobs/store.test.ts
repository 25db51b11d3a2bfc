/**
 * The blob store on a real PostgreSQL: migration 0006, put/get/delete, idempotent put, the
 * conflict on other bytes, the corruption check, and the lazy table creation of a database
 * that was never migrated. Also the claim-check codec round trip of a 3 MiB payload.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/audit/index.js';
import {
  BlobConflictError,
  BlobCorruptError,
  CLAIM_CHECK_ENCODING,
  ClaimCheckCodec,
  ClaimCheckError,
  PgBlobStore,
  sha256Hex,
} from '../../../src/blobs/index.js';
import { columnTypes, createTestDatabase, type TestDatabase } from '../audit/helpers.js';

describe('PgBlobStore on a migrated database', () => {
  let db: TestDatabase;
  let store: PgBlobStore;
  beforeAll(async () => {
    db = await createTestDatabase('blobs');
    await migrate(db.pool);
    store = new PgBlobStore(db.pool);
  });
  afterAll(async () => db?.drop());

  it('migration 0006 creates polysaga_blobs', async () => {
    expect(await columnTypes(db.pool, 'polysaga_blobs')).toEqual({
      key: 'text',
      sha256: 'text',
      size: 'bigint',
      bytes: 'bytea',
      saga_id: 'text',
      step_id: 'text',
      created_at: 'timestamp with time zone',
      last_used_at: 'timestamp with time zone',
    });
  });

  it('put then get returns the same bytes and records owner, size and sha256', async () => {
    const bytes = randomBytes(100_000);
    await store.put('t/one', bytes, { sagaId: 's1', stepId: 'a' });
    expect(Buffer.from((await store.get('t/one'))!).equals(bytes)).toBe(true);
    const row = await db.pool.query(
      'SELECT sha256, size, saga_id, step_id FROM polysaga_blobs WHERE key = $1',
      ['t/one'],
    );
    expect(row.rows).toEqual([{ sha256: sha256Hex(bytes), size: '100000', saga_id: 's1', step_id: 'a' }]);
  });

  it('put of the same key and bytes is a no-op; other bytes are refused', async () => {
    const bytes = Buffer.from('same bytes');
    await store.put('t/idem', bytes, { sagaId: 'first' });
    await db.pool.query(
      `UPDATE polysaga_blobs SET last_used_at = now() - interval '1 day' WHERE key = 't/idem'`,
    );
    await store.put('t/idem', Buffer.from('same bytes'), { sagaId: 'second' });
    await Promise.all([1, 2, 3, 4].map(() => store.put('t/idem', bytes)));
    const rows = await db.pool.query('SELECT saga_id, bytes FROM polysaga_blobs WHERE key = $1', ['t/idem']);
    expect(rows.rows).toEqual([{ saga_id: 'first', bytes }]);
    const used = await db.pool.query<{ recent: boolean }>(
      `SELECT last_used_at > now() - interval '1 hour' AS recent FROM polysaga_blobs WHERE key = 't/idem'`,
    );
    expect(used.rows).toEqual([{ recent: true }]);
    await expect(store.put('t/idem', Buffer.from('other bytes'))).rejects.toBeInstanceOf(BlobConflictError);
    expect(Buffer.from((await store.get('t/idem'))!).toString()).toBe('same bytes');
  });

  it('get of a missing key is null; delete removes once', async () => {
    expect(await store.get('t/none')).toBeNull();
    await store.put('t/del', Buffer.from('x'));
    expect(await store.delete('t/del')).toBe(true);
    expect(await store.delete('t/del')).toBe(false);
    expect(await store.get('t/del')).toBeNull();
    const n = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM polysaga_blobs WHERE key = 't/del'`,
    );
    expect(n.rows[0]?.n).toBe(0);
  });

  it('get refuses bytes that no longer match their sha256', async () => {
    await store.put('t/rot', Buffer.from('original'));
    await db.pool.query(`UPDATE polysaga_blobs SET bytes = 'tampered'::bytea WHERE key = 't/rot'`);
    await expect(store.get('t/rot')).rejects.toBeInstanceOf(BlobCorruptError);
  });

  it('refuses empty and control-character keys, naming them', async () => {
    await expect(store.put('', Buffer.from('x'))).rejects.toThrow(/invalid blob key ""/);
    await expect(store.get('a\nb')).rejects.toThrow(/invalid blob key/);
  });

  it('the claim-check codec stores a 3 MiB payload and gives it back; small ones pass through', async () => {
    const codec = new ClaimCheckCodec(store, { thresholdBytes: 131_072 });
    const big = {
      metadata: { encoding: Buffer.from('binary/plain'), extra: Buffer.from('kept') },
      data: new Uint8Array(randomBytes(3 * 1024 * 1024)),
    };
    const small = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"hi"') };
    const [ref, same] = await codec.encode([big, small], {
      type: 'workflow',
      namespace: 'default',
      workflowId: 'w-3mib',
    });
    expect(Buffer.from(ref!.metadata!.encoding!).toString()).toBe(CLAIM_CHECK_ENCODING);
    expect(ref!.data!.byteLength).toBeLessThan(200);
    expect(same).toBe(small);
    const { key } = JSON.parse(Buffer.from(ref!.data!).toString()) as { key: string };
    expect(key).toMatch(/^payload\/[0-9a-f]{64}$/);
    const row = await db.pool.query<{ saga_id: string; size: string }>(
      'SELECT saga_id, size FROM polysaga_blobs WHERE key = $1',
      [key],
    );
    expect(row.rows[0]?.saga_id).toBe('w-3mib');
    expect(Number(row.rows[0]?.size)).toBeGreaterThan(3 * 1024 * 1024);

    const [back, small2] = await codec.decode([ref!, small]);
    expect(Buffer.from(back!.data!).equals(Buffer.from(big.data))).toBe(true);
    expect(Buffer.from(back!.metadata!.encoding!).toString()).toBe('binary/plain');
    expect(Buffer.from(back!.metadata!.extra!).toString()).toBe('kept');
    expect(small2).toBe(small);

    await store.delete(key);
    await expect(codec.decode([ref!])).rejects.toBeInstanceOf(ClaimCheckError);
  });
});

describe('PgBlobStore on a database never migrated', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('blobs_lazy');
  });
  afterAll(async () => db?.drop());

  it('creates its table on first use, once even when called concurrently', async () => {
    const stores = [new PgBlobStore(db.pool), new PgBlobStore(db.pool), new PgBlobStore(db.extraPool())];
    await Promise.all(stores.map((s, i) => s.put(`lazy/${i}`, Buffer.from(`v${i}`))));
    const n = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM polysaga_blobs');
    expect(n.rows[0]?.n).toBe(3);
    // A later migrate finds the table and records 0006 without error.
    const result = await migrate(db.pool);
    expect(result.applied.map((a) => a.version)).toContain(6);
  });
});
