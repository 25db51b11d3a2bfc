-- The table of examples/plugins/archive-note.json (idempotent): its rows are soft-deleted by the
-- plugin's postgres_mark_deleted compensation, which sets deleted_at.
CREATE TABLE IF NOT EXISTS plugin_archive (
  id         text PRIMARY KEY,
  title      text NOT NULL,
  deleted_at timestamptz
);
