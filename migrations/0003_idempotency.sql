-- 0003 polysaga_idempotency: results of operations keyed by their idempotency key, for
-- backends that cannot make an operation idempotent by themselves (docs/audit.md).
CREATE TABLE IF NOT EXISTS polysaga_idempotency (
  key        text PRIMARY KEY,
  result     jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
