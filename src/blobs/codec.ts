/**
 * The claim-check payload codec: a payload whose encoded size is over the threshold
 * (`POLYSAGA_PAYLOAD_THRESHOLD`, default 128 KiB) is stored in the blob store under
 * `payload/<sha256>` and replaced in Temporal by a small reference payload (metadata
 * `encoding: polysaga/claim-check`, data `{"key","sha256","size"}`). Decoding fetches it back.
 *
 * The worker (workflow and activity payloads) and every client (CLI, demo, bench, tests) use
 * the same codec via {@link createDataConverter}, so a workflow sees the original payloads and
 * history holds only references. Decoding depends only on the store, so replay is
 * deterministic as long as the blob is kept (docs/blobs.md: blobs are never deleted by polysaga).
 */
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { EncryptionCodec, type CodecKey } from './encryption.js';
import { PgBlobStore, sha256Hex, type BlobStore } from './store.js';
import type { SecretMasker } from '../audit/redact.js';
import { SecretMaskingCodec } from './mask-codec.js';

/** Metadata `encoding` of a reference payload. */
export const CLAIM_CHECK_ENCODING = 'polysaga/claim-check';
/** Default threshold in bytes (128 KiB); see `POLYSAGA_PAYLOAD_THRESHOLD`. */
export const DEFAULT_PAYLOAD_THRESHOLD = 131_072;

const MAGIC = Buffer.from('PSP1', 'ascii');
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What a reference payload carries (its JSON data). */
export interface ClaimCheckRef {
  key: string;
  sha256: string;
  size: number;
}

/** A claim-check reference whose blob is gone or malformed. */
export class ClaimCheckError extends Error {
  override name = 'ClaimCheckError';
}

/** Encoded size of a payload: its data plus its metadata keys and values. */
export function payloadSize(p: Payload): number {
  let n = p.data?.byteLength ?? 0;
  for (const [k, v] of Object.entries(p.metadata ?? {})) n += k.length + (v?.byteLength ?? 0);
  return n;
}

/**
 * Serialises a payload into one byte string: `PSP1`, 4-byte big-endian length of the metadata
 * JSON (values base64), the metadata JSON, then the data bytes.
 */
export function serializePayload(p: Payload): Uint8Array {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) meta[k] = Buffer.from(v).toString('base64');
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(metaBytes.byteLength);
  // A payload made in the workflow sandbox may carry its data as a plain array of bytes.
  const data = p.data instanceof Uint8Array ? p.data : Buffer.from((p.data ?? []) as ArrayLike<number>);
  return Buffer.concat([MAGIC, len, metaBytes, data]);
}

/** Inverse of {@link serializePayload}. */
export function deserializePayload(bytes: Uint8Array): Payload {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.byteLength < 8 || !b.subarray(0, 4).equals(MAGIC)) throw new ClaimCheckError('not a stored payload');
  const metaLen = b.readUInt32BE(4);
  const meta = JSON.parse(b.subarray(8, 8 + metaLen).toString('utf8')) as Record<string, string>;
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(b.subarray(8 + metaLen)) };
}

function isClaimCheck(p: Payload): boolean {
  const enc = p.metadata?.encoding;
  return enc !== undefined && enc !== null && fromUtf8.decode(enc) === CLAIM_CHECK_ENCODING;
}

export interface ClaimCheckCodecOptions {
  /** Payloads larger than this many bytes go to the store (default {@link DEFAULT_PAYLOAD_THRESHOLD}). */
  thresholdBytes?: number;
}

/** The {@link PayloadCodec} that moves big payloads into a {@link BlobStore}. */
export class ClaimCheckCodec implements PayloadCodec {
  readonly thresholdBytes: number;
  constructor(
    readonly store: BlobStore,
    options: ClaimCheckCodecOptions = {},
  ) {
    this.thresholdBytes = options.thresholdBytes ?? DEFAULT_PAYLOAD_THRESHOLD;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (p) => {
        if (payloadSize(p) <= this.thresholdBytes || isClaimCheck(p)) return p;
        const bytes = serializePayload(p);
        const sha256 = sha256Hex(bytes);
        const key = `payload/${sha256}`;
        await this.store.put(key, bytes, { sagaId: context?.workflowId });
        const ref: ClaimCheckRef = { key, sha256, size: bytes.byteLength };
        return {
          metadata: { encoding: utf8.encode(CLAIM_CHECK_ENCODING) },
          data: utf8.encode(JSON.stringify(ref)),
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (p) => {
        if (!isClaimCheck(p)) return p;
        let ref: ClaimCheckRef;
        try {
          ref = JSON.parse(fromUtf8.decode(p.data ?? new Uint8Array())) as ClaimCheckRef;
        } catch {
          throw new ClaimCheckError('a polysaga/claim-check payload does not hold a JSON reference');
        }
        if (typeof ref.key !== 'string' || typeof ref.sha256 !== 'string')
          throw new ClaimCheckError('a polysaga/claim-check reference needs key and sha256');
        const bytes = await this.store.get(ref.key);
        if (bytes === null)
          throw new ClaimCheckError(
            `payload ${ref.key} is referenced by Temporal history but missing from polysaga_blobs`,
          );
        if (sha256Hex(bytes) !== ref.sha256)
          throw new ClaimCheckError(`payload ${ref.key} does not match the sha256 of its reference`);
        return deserializePayload(bytes);
      }),
    );
  }
}

export interface DataConverterOptions extends ClaimCheckCodecOptions {
  /** The store of big payloads, or a pool to build a {@link PgBlobStore} on. */
  store?: BlobStore;
  pool?: pg.Pool;
  /**
   * Encryption keys, newest first (`config.codec.keys`, from `POLYSAGA_CODEC_KEYS`). Empty or
   * absent: payloads are not encrypted (encrypted ones cannot be read).
   */
  keys?: readonly CodecKey[];
  /** Configured secret values to mask in JSON payloads on encode (src/blobs/mask-codec.ts). */
  secrets?: SecretMasker;
}

/**
 * The failure converter of every polysaga data converter: the default one with
 * `encodeCommonAttributes`, so failure messages and stack traces travel as a payload (encrypted
 * by the codec) instead of plain text in history. A module path, because the worker loads it
 * into the workflow bundle too.
 */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * The data converter polysaga's worker and clients use: the default payload converter, the
 * {@link EncryptionCodec} when keys are configured, then the {@link ClaimCheckCodec}. Encoding
 * runs in that order, so a big payload is encrypted before it is moved to `polysaga_blobs`: the
 * blob holds ciphertext and history the (plain) reference. Pass
 * `thresholdBytes: config.payloads.thresholdBytes, keys: config.codec.keys`.
 */
export function createDataConverter(options: DataConverterOptions): DataConverter {
  const store = options.store ?? (options.pool ? new PgBlobStore(options.pool) : undefined);
  if (!store) throw new Error('createDataConverter needs a blob store or a pg pool');
  const claimCheck = new ClaimCheckCodec(store, {
    ...(options.thresholdBytes !== undefined ? { thresholdBytes: options.thresholdBytes } : {}),
  });
  const encrypted = options.keys !== undefined && options.keys.length > 0;
  return {
    payloadCodecs: [
      // Secrets masked by value: first, so that neither history nor the blob store holds one.
      ...(options.secrets?.active ? [new SecretMaskingCodec(options.secrets)] : []),
      // Encryption before the claim check, so a big payload reaches polysaga_blobs encrypted.
      ...(encrypted ? [new EncryptionCodec(options.keys!)] : []),
      claimCheck,
    ],
    ...(encrypted ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
  };
}
