-- polysaga:concurrent-indexes
-- 0002 indexes of uds3_saga_events.
--
-- The marker above tells the runner that this file holds only CREATE INDEX statements: with
-- migrate(pool, { concurrentIndexes: true }) (CLI: polysaga migrate --concurrently) each one is
-- run on its own, outside a transaction, as CREATE INDEX CONCURRENTLY, so a large audit table
-- stays writable while they are built.

-- Makes a retried recordEvent a no-op: INSERT ... ON CONFLICT (saga_id, seq) DO NOTHING.
CREATE UNIQUE INDEX IF NOT EXISTS uds3_saga_events_saga_id_seq_key ON uds3_saga_events (saga_id, seq);
-- polysaga events <sagaId>, recovery.
CREATE INDEX IF NOT EXISTS uds3_saga_events_saga_id_idx ON uds3_saga_events (saga_id);
-- Monitoring and "which sagas are FAILED since ..." queries.
CREATE INDEX IF NOT EXISTS uds3_saga_events_status_created_at_idx ON uds3_saga_events (status, created_at);
