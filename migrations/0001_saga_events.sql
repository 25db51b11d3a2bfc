-- 0001 uds3_saga_events: one row per saga transition (docs/audit.md).
--
-- Idempotent, and an upgrade as well as a create: databases that already hold the table from an
-- older version (the first seed's Python orchestrator, or an early polysaga) get the missing
-- columns, a jsonb payload, a text saga_id and a back-filled seq. Indexes, including the
-- (saga_id, seq) uniqueness, live in 0002 so that they can be built CONCURRENTLY.

CREATE TABLE IF NOT EXISTS uds3_saga_events (
  id          bigserial PRIMARY KEY,
  saga_id     text        NOT NULL,
  run_id      text,
  seq         integer     NOT NULL,
  step_id     text,
  status      text        NOT NULL,
  saga_name   text,
  payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  error       text,
  trace_id    text,
  attempt     integer,
  duration_ms integer,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Upgrade path for older tables. ADD COLUMN IF NOT EXISTS is a no-op on a current table.
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS run_id      text;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS seq         integer;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS step_id     text;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS saga_name   text;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS payload     jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS error       text;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS trace_id    text;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS attempt     integer;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS duration_ms integer;
ALTER TABLE uds3_saga_events ADD COLUMN IF NOT EXISTS created_at  timestamptz NOT NULL DEFAULT now();

-- Older tables stored the payload as json or text and the saga id as uuid; polysaga writes
-- jsonb and free-form saga ids (the workflow id).
DO $$
DECLARE
  payload_type text;
  saga_id_type text;
BEGIN
  SELECT data_type INTO payload_type FROM information_schema.columns
   WHERE table_schema = current_schema() AND table_name = 'uds3_saga_events' AND column_name = 'payload';
  IF payload_type IN ('json', 'text', 'character varying') THEN
    ALTER TABLE uds3_saga_events ALTER COLUMN payload DROP DEFAULT;
    ALTER TABLE uds3_saga_events ALTER COLUMN payload TYPE jsonb USING coalesce(payload::text, '{}')::jsonb;
    UPDATE uds3_saga_events SET payload = '{}'::jsonb WHERE payload IS NULL;
    ALTER TABLE uds3_saga_events ALTER COLUMN payload SET DEFAULT '{}'::jsonb;
  END IF;
  SELECT data_type INTO saga_id_type FROM information_schema.columns
   WHERE table_schema = current_schema() AND table_name = 'uds3_saga_events' AND column_name = 'saga_id';
  IF saga_id_type IS DISTINCT FROM 'text' THEN
    ALTER TABLE uds3_saga_events ALTER COLUMN saga_id TYPE text USING saga_id::text;
  END IF;
END
$$;

-- Rows written before seq existed get one: their order within the saga by time, after any
-- seq the saga already has. Then seq becomes mandatory, as the writer's idempotency needs it.
WITH numbered AS (
  SELECT ctid AS row_ctid,
         row_number() OVER (PARTITION BY saga_id ORDER BY created_at, ctid) AS rn
    FROM uds3_saga_events
   WHERE seq IS NULL
)
UPDATE uds3_saga_events e
   SET seq = n.rn + coalesce((SELECT max(x.seq) FROM uds3_saga_events x
                               WHERE x.saga_id = e.saga_id AND x.seq IS NOT NULL), 0)
  FROM numbered n
 WHERE e.ctid = n.row_ctid;

ALTER TABLE uds3_saga_events ALTER COLUMN seq SET NOT NULL;
