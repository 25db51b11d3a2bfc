/**
 * Data kept out of Temporal history (docs/blobs.md): the blob store on PostgreSQL, the
 * claim-check payload codec and the before-image references of the backends.
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
