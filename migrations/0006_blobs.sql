-- 0006 polysaga_blobs: data kept out of Temporal history (docs/blobs.md). Payloads over
-- POLYSAGA_PAYLOAD_THRESHOLD (key `payload/<sha256>`, written by the claim-check codec) and the
-- before-images of postgres, kv, neo4j and vector steps (key `before/<idempotency key>`).
-- History and audit rows carry only the key. A key never changes its bytes (sha256 checked).
-- polysaga never deletes blobs; docs/blobs.md says which ones may be deleted when.
CREATE TABLE IF NOT EXISTS polysaga_blobs (
  key        text PRIMARY KEY,
  sha256     text        NOT NULL,
  size       bigint      NOT NULL,
  bytes      bytea       NOT NULL,
  saga_id    text,
  step_id    text,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Last put of these bytes (a content-addressed payload can be shared by later sagas).
  last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS polysaga_blobs_saga_id_idx ON polysaga_blobs (saga_id);
