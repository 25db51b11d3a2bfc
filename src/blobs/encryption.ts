/**
 * Payload encryption (docs/security.md, "Encrypted payloads"): a Temporal {@link PayloadCodec}
 * with AES-256-GCM. Every payload is serialised whole (metadata and data, see
 * {@link serializePayload}) and encrypted with the newest configured key and a fresh 96-bit IV.
 * The encrypted payload carries metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`; its data is `IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes)`.
 *
 * Key rotation: encode uses the first (newest) key, decode accepts any configured key. A
 * payload without the encrypted encoding passes through decode unchanged, so histories written
 * before encryption was turned on still replay.
 *
 * The same envelope protects the blobs of `polysaga_blobs` that are written outside the codec
 * (before-images): {@link EncryptedBlobStore}. No I/O here besides node:crypto.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { BlobConflictError, type BlobOwner, type BlobStore } from './store.js';
import { deserializePayload, serializePayload } from './codec.js';

/** Metadata `encoding` of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key an encrypted payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** AES-256: keys are 32 bytes. */
export const CODEC_KEY_BYTES = 32;
/** Key ids: what may appear in payload metadata and in error messages. */
export const CODEC_KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * One encryption key: an id (stored in every payload it encrypts) and 32 secret bytes, as bytes
 * or base64 (the configuration's form).
 */
export interface CodecKey {
  id: string;
  key: Uint8Array | string;
}

/** A payload that cannot be encrypted or decrypted; the message names the key id, never the key. */
export class PayloadEncryptionError extends Error {
  override name = 'PayloadEncryptionError';
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
  }
}

/** True when the payload carries `encoding: binary/encrypted`. */
export function isEncryptedPayload(p: Payload): boolean {
  const enc = p.metadata?.encoding;
  return enc !== undefined && enc !== null && fromUtf8.decode(enc) === ENCRYPTED_ENCODING;
}

/** The codec that encrypts every payload with the newest key and decrypts with any configured key. */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  /** The key new payloads are encrypted with (the first of the list). */
  readonly currentKeyId: string;

  /** @param keys newest first; at least one; ids unique. */
  constructor(keys: readonly CodecKey[]) {
    const first = keys[0];
    if (!first) throw new PayloadEncryptionError('the encryption codec needs at least one key');
    this.byId = new Map();
    for (const k of keys) {
      if (!CODEC_KEY_ID_PATTERN.test(k.id))
        throw new PayloadEncryptionError(
          `key id ${JSON.stringify(k.id)}: letters, digits, '.', '_' or '-', at most 64`,
        );
      const key = typeof k.key === 'string' ? Buffer.from(k.key, 'base64') : Buffer.from(k.key);
      if (key.byteLength !== CODEC_KEY_BYTES)
        throw new PayloadEncryptionError(
          `key ${JSON.stringify(k.id)} must be ${CODEC_KEY_BYTES} bytes (AES-256), not ${key.byteLength}`,
          k.id,
        );
      if (this.byId.has(k.id))
        throw new PayloadEncryptionError(`key id ${JSON.stringify(k.id)} is configured twice`, k.id);
      this.byId.set(k.id, key);
    }
    this.currentKeyId = first.id;
  }

  /** The configured key ids, newest first. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  /** Encrypts one payload (an already encrypted one is returned as it is). */
  encryptPayload(p: Payload): Payload {
    if (isEncryptedPayload(p)) return p;
    const key = this.byId.get(this.currentKeyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(serializePayload(p)), cipher.final()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(this.currentKeyId),
      },
      data: new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()])),
    };
  }

  /** Decrypts one payload; one without the encrypted encoding is returned as it is. */
  decryptPayload(p: Payload): Payload {
    if (!isEncryptedPayload(p)) return p;
    const idBytes = p.metadata?.[KEY_ID_METADATA];
    if (!idBytes) throw new PayloadEncryptionError(`an encrypted payload has no ${KEY_ID_METADATA} metadata`);
    const keyId = fromUtf8.decode(idBytes);
    const key = this.byId.get(keyId);
    if (!key) {
      throw new PayloadEncryptionError(
        `a payload is encrypted with key id ${JSON.stringify(keyId)}, which is not configured ` +
          `(configured: ${this.keyIds.join(', ')}); add it to POLYSAGA_CODEC_KEYS`,
        keyId,
      );
    }
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.byteLength < IV_BYTES + TAG_BYTES)
      throw new PayloadEncryptionError(
        `an encrypted payload (key id ${JSON.stringify(keyId)}) is too short`,
        keyId,
      );
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.byteLength - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.byteLength - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadEncryptionError(
        `a payload encrypted with key id ${JSON.stringify(keyId)} fails authentication: ` +
          'it was altered, or the key configured under that id is not the one it was encrypted with',
        keyId,
      );
    }
    return deserializePayload(plain);
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads.map((p) => this.encryptPayload(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    try {
      return Promise.resolve(payloads.map((p) => this.decryptPayload(p)));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Encrypts a byte string into the bytes of a serialised encrypted payload. */
  encryptBytes(bytes: Uint8Array): Uint8Array {
    return serializePayload(this.encryptPayload({ metadata: {}, data: bytes }));
  }

  /**
   * Inverse of {@link encryptBytes}. Bytes that are not a serialised encrypted payload (a blob
   * written before encryption was on) are returned as they are.
   */
  decryptBytes(bytes: Uint8Array): Uint8Array {
    if (!looksSerialized(bytes)) return bytes;
    let p: Payload;
    try {
      p = deserializePayload(bytes);
    } catch {
      return bytes;
    }
    if (!isEncryptedPayload(p)) return bytes;
    return this.decryptPayload(p).data ?? new Uint8Array();
  }
}

function looksSerialized(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 && fromUtf8.decode(bytes.subarray(0, 4)) === 'PSP1';
}

/**
 * A {@link BlobStore} that encrypts on `put` and decrypts on `get` with an
 * {@link EncryptionCodec} (used for before-images). Since every encryption has a fresh IV, a
 * second `put` of the same key stores nothing: when the blob already holds the same plaintext it
 * is a no-op, other plaintext is a {@link BlobConflictError} as with the plain store. Blobs
 * written before encryption was on are read as they are.
 */
export class EncryptedBlobStore implements BlobStore {
  constructor(
    readonly inner: BlobStore,
    readonly codec: EncryptionCodec,
  ) {}

  async put(key: string, bytes: Uint8Array, owner?: BlobOwner): Promise<void> {
    try {
      await this.inner.put(key, this.codec.encryptBytes(bytes), owner);
    } catch (err) {
      if (!(err instanceof BlobConflictError)) throw err;
      const existing = await this.get(key);
      if (existing === null || !Buffer.from(existing).equals(Buffer.from(bytes))) throw err;
      // Same plaintext, encrypted earlier under another IV: already stored.
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    const bytes = await this.inner.get(key);
    return bytes === null ? null : this.codec.decryptBytes(bytes);
  }

  delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }
}
