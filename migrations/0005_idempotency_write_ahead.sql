-- 0005 polysaga_idempotency gets the write-ahead columns the backends use (src/adapters/postgres.ts):
-- which backend and operation claimed a key, whether the effect is still pending or done, and the
-- before-image prepared before the effect. A database whose table the adapter created already has
-- them; one created by 0003 is upgraded. Rows from before are complete results ('done').
ALTER TABLE polysaga_idempotency ADD COLUMN IF NOT EXISTS backend text;
ALTER TABLE polysaga_idempotency ADD COLUMN IF NOT EXISTS operation text;
ALTER TABLE polysaga_idempotency ADD COLUMN IF NOT EXISTS status text;
ALTER TABLE polysaga_idempotency ADD COLUMN IF NOT EXISTS prepared jsonb;
ALTER TABLE polysaga_idempotency ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
UPDATE polysaga_idempotency SET backend = coalesce(backend, ''), operation = coalesce(operation, ''),
  status = coalesce(status, 'done')
  WHERE backend IS NULL OR operation IS NULL OR status IS NULL;
ALTER TABLE polysaga_idempotency ALTER COLUMN backend SET NOT NULL;
ALTER TABLE polysaga_idempotency ALTER COLUMN operation SET NOT NULL;
ALTER TABLE polysaga_idempotency ALTER COLUMN status SET NOT NULL;
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
     WHERE conrelid = 'polysaga_idempotency'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) LIKE '%status%pending%done%'
  ) THEN
    ALTER TABLE polysaga_idempotency
      ADD CONSTRAINT polysaga_idempotency_status_check CHECK (status IN ('pending', 'done'));
  END IF;
END
$$;
