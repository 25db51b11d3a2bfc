-- Tables the example sagas write to (idempotent). Applied by `polysaga demo` and the example tests.
CREATE TABLE IF NOT EXISTS documents (
  id          text PRIMARY KEY,
  title       text NOT NULL,
  source_path text,
  status      text NOT NULL DEFAULT 'new',
  created_at  timestamptz NOT NULL DEFAULT now()
);
