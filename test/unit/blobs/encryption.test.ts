/**
 * The AES-256-GCM payload codec (src/blobs/encryption.ts) and its place in polysaga's data
 * converter: round trip, rotation, unknown key ids, tampering, passthrough of plain payloads,
 * encrypted before-image blobs, and big payloads stored as ciphertext.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  BlobConflictError,
  CLAIM_CHECK_ENCODING,
  createDataConverter,
  deserializePayload,
  serializePayload,
  ENCRYPTED_ENCODING,
  EncryptedBlobStore,
  EncryptionCodec,
  KEY_ID_METADATA,
  PayloadEncryptionError,
  sha256Hex,
  type BlobStore,
  type CodecKey,
} from '../../../src/blobs/index.js';

const key = (id: string): CodecKey => ({ id, key: randomBytes(32) });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v);
const MARKER = 'marker-4f1c9e-secret-password';

/** A blob store in memory, with the same put semantics as PgBlobStore. */
class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Uint8Array>();
  put(k: string, bytes: Uint8Array): Promise<void> {
    const old = this.blobs.get(k);
    if (old && sha256Hex(old) !== sha256Hex(bytes)) return Promise.reject(new BlobConflictError(k));
    this.blobs.set(k, bytes);
    return Promise.resolve();
  }
  get(k: string): Promise<Uint8Array | null> {
    return Promise.resolve(this.blobs.get(k) ?? null);
  }
  delete(k: string): Promise<boolean> {
    return Promise.resolve(this.blobs.delete(k));
  }
}

describe('EncryptionCodec', () => {
  it('round-trips payloads, metadata included, and hides their content', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const plain = [toPayload({ password: MARKER }), toPayload(null), toPayload(new Uint8Array([1, 2, 3]))];
    const enc = await codec.encode(plain);
    for (const p of enc) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('k1');
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
      expect(text(p.data)).not.toContain(MARKER);
      expect(text(p.data)).not.toContain('json/plain');
    }
    expect(await codec.decode(enc)).toEqual(plain);
    expect(defaultPayloadConverter.fromPayload((await codec.decode(enc))[0]!)).toEqual({ password: MARKER });
  });

  it('uses a fresh IV for every payload: the same payload twice gives two ciphertexts', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const [a, b] = await codec.encode([toPayload('same'), toPayload('same')]);
    expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('rotation: encrypts with the newest key and decrypts with any configured key', async () => {
    const k1 = key('2026-01');
    const k2 = key('2026-06');
    const old = await new EncryptionCodec([k1]).encode([toPayload('written under k1')]);
    const rotated = new EncryptionCodec([k2, k1]);
    expect(rotated.currentKeyId).toBe('2026-06');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode(old))[0]!)).toBe('written under k1');
    const fresh = await rotated.encode([toPayload('written under k2')]);
    expect(text(fresh[0]!.metadata?.[KEY_ID_METADATA])).toBe('2026-06');
    // Once k1 is dropped, new payloads still decode; old ones fail naming k1.
    const withoutOld = new EncryptionCodec([k2]);
    expect(defaultPayloadConverter.fromPayload((await withoutOld.decode(fresh))[0]!)).toBe(
      'written under k2',
    );
    await expect(withoutOld.decode(old)).rejects.toThrow(PayloadEncryptionError);
  });

  it('a payload whose key id is not configured fails naming the key id, never a key', async () => {
    const secret = key('gone');
    const enc = await new EncryptionCodec([secret]).encode([toPayload('x')]);
    const other = key('current');
    const err = await new EncryptionCodec([other]).decode(enc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadEncryptionError);
    const msg = (err as Error).message;
    expect(msg).toContain('"gone"');
    expect(msg).toContain('not configured');
    expect(msg).toContain('current');
    for (const k of [secret, other]) {
      expect(msg).not.toContain(Buffer.from(k.key as Uint8Array).toString('base64'));
      expect(msg).not.toContain(Buffer.from(k.key as Uint8Array).toString('hex'));
    }
  });

  it('a tampered ciphertext, tag or key id fails authentication', async () => {
    const codec = new EncryptionCodec([key('a'), key('b')]);
    const [p] = await codec.encode([toPayload({ amount: 100 })]);
    const flip = (i: number): Payload => {
      const data = Buffer.from(p!.data!);
      data[i] = data[i]! ^ 1;
      return { metadata: p!.metadata!, data: new Uint8Array(data) };
    };
    for (const i of [0, 20, p!.data!.byteLength - 1]) {
      await expect(codec.decode([flip(i)])).rejects.toThrow(/key id "a" fails authentication/);
    }
    // The same bytes presented as encrypted with the other configured key.
    const relabelled = { metadata: { ...p!.metadata!, [KEY_ID_METADATA]: Buffer.from('b') }, data: p!.data! };
    await expect(codec.decode([relabelled])).rejects.toThrow(/key id "b" fails authentication/);
    await expect(codec.decode([{ ...p!, data: new Uint8Array(10) }])).rejects.toThrow(/too short/);
  });

  it('passes unencrypted payloads through decode (histories from before encryption replay)', async () => {
    const codec = new EncryptionCodec([key('k')]);
    const plain = [
      toPayload({ a: 1 }),
      { metadata: { encoding: Buffer.from(CLAIM_CHECK_ENCODING) }, data: Buffer.from('{}') },
    ];
    expect(await codec.decode(plain)).toEqual(plain);
    // Encoding an encrypted payload again leaves it as it is.
    const enc = await codec.encode([toPayload('once')]);
    expect(await codec.encode(enc)).toEqual(enc);
  });

  it('refuses bad keys naming the key id', () => {
    expect(() => new EncryptionCodec([])).toThrow(/at least one key/);
    expect(() => new EncryptionCodec([{ id: 'short', key: randomBytes(16) }])).toThrow(
      /"short" must be 32 bytes/,
    );
    expect(() => new EncryptionCodec([key('x'), key('x')])).toThrow(/"x" is configured twice/);
    expect(() => new EncryptionCodec([{ id: 'bad id', key: randomBytes(32) }])).toThrow(/key id "bad id"/);
    // The configuration's base64 form works too.
    const b64 = randomBytes(32).toString('base64');
    expect(new EncryptionCodec([{ id: 'b64', key: b64 }]).currentKeyId).toBe('b64');
  });
});

describe('EncryptedBlobStore (before-images)', () => {
  it('stores ciphertext, reads plaintext, and a second put of the same plaintext is a no-op', async () => {
    const inner = new MemoryBlobStore();
    const store = new EncryptedBlobStore(inner, new EncryptionCodec([key('k')]));
    const image = Buffer.from(JSON.stringify({ before: { id: 'u1', title: MARKER } }));
    await store.put('before/s:a', image);
    const stored = inner.blobs.get('before/s:a')!;
    expect(text(stored)).not.toContain(MARKER);
    expect(text(deserializePayload(stored).metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(await store.get('before/s:a'))).toBe(image.toString());
    await store.put('before/s:a', image); // another IV, same plaintext
    expect(inner.blobs.get('before/s:a')).toBe(stored);
    await expect(store.put('before/s:a', Buffer.from('{"before":"other"}'))).rejects.toThrow(
      BlobConflictError,
    );
    expect(await store.get('missing')).toBeNull();
  });

  it('reads blobs written before encryption was on as they are', async () => {
    const inner = new MemoryBlobStore();
    await inner.put('before/old', Buffer.from('{"before":1}'));
    const store = new EncryptedBlobStore(inner, new EncryptionCodec([key('k')]));
    expect(text(await store.get('before/old'))).toBe('{"before":1}');
  });
});

describe('createDataConverter with keys', () => {
  it('encrypts every payload, and a big one is stored in the blob store as ciphertext', async () => {
    const store = new MemoryBlobStore();
    const dc = createDataConverter({ store, thresholdBytes: 1024, keys: [key('k')] });
    expect(dc.failureConverterPath).toMatch(/failure-converter\.cjs$/);
    const small = toPayload({ note: MARKER });
    const big = toPayload({ note: MARKER, pad: 'x'.repeat(4096) });
    let payloads = [small, big];
    for (const c of dc.payloadCodecs ?? []) payloads = await c.encode(payloads);
    expect(text(payloads[0]!.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(payloads[1]!.metadata?.encoding)).toBe(CLAIM_CHECK_ENCODING);
    for (const p of payloads) expect(text(p.data)).not.toContain(MARKER);
    expect(store.blobs.size).toBe(1);
    for (const bytes of store.blobs.values()) expect(text(bytes)).not.toContain(MARKER);
    for (const c of [...(dc.payloadCodecs ?? [])].reverse()) payloads = await c.decode(payloads);
    expect(payloads).toEqual([small, big]);
  });

  it('without keys: only the claim-check codec and the default failure converter', () => {
    const dc = createDataConverter({ store: new MemoryBlobStore(), keys: [] });
    expect(dc.payloadCodecs).toHaveLength(1);
    expect(dc.failureConverterPath).toBeUndefined();
  });
});

describe('serializePayload', () => {
  it('takes data given as a plain array of bytes (payloads made in the workflow sandbox)', () => {
    const p = toPayload({ marker: MARKER });
    const asArray = { ...p, data: Array.from(p.data ?? []) } as unknown as Payload;
    const back = deserializePayload(serializePayload(asArray));
    expect(text(back.data)).toBe(text(p.data));
    expect(text(back.metadata?.encoding)).toBe('json/plain');
  });
});
