/**
 * Data kept out of Temporal history (docs/blobs.md): the blob store on PostgreSQL, the
 * claim-check payload codec and the before-image references of the backends; and payload
 * encryption (docs/security.md).
 */
export {
  BLOBS_TABLE,
  BlobConflictError,
  BlobCorruptError,
  PgBlobStore,
  sha256Hex,
  type BlobOwner,
  type BlobStore,
} from './store.js';
export {
  CLAIM_CHECK_ENCODING,
  ClaimCheckCodec,
  ClaimCheckError,
  createDataConverter,
  DEFAULT_PAYLOAD_THRESHOLD,
  FAILURE_CONVERTER_PATH,
  deserializePayload,
  payloadSize,
  serializePayload,
  type ClaimCheckCodecOptions,
  type ClaimCheckRef,
  type DataConverterOptions,
} from './codec.js';
export {
  BEFORE_IMAGE_FIELDS,
  BEFORE_IMAGE_REF_KEY,
  beforeImageKey,
  offloadBeforeImage,
  resolveBeforeImage,
  withBeforeImagesOutOfBand,
  type BeforeImageRef,
} from './before-images.js';
export {
  CODEC_KEY_BYTES,
  CODEC_KEY_ID_PATTERN,
  ENCRYPTED_ENCODING,
  EncryptedBlobStore,
  EncryptionCodec,
  isEncryptedPayload,
  KEY_ID_METADATA,
  PayloadEncryptionError,
  type CodecKey,
} from './encryption.js';
