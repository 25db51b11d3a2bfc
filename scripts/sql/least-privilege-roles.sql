-- Least-privilege roles for polysaga (docs/security.md, "Least-privilege roles"). Idempotent.
--
-- Run it as the owner of polysaga's tables (the POSTGRES_USER that ran `polysaga migrate`; it
-- needs CREATEROLE) in the database and schema polysaga was migrated into, after the migrations:
--
--   PGOPTIONS='-c polysaga.audit_role=polysaga_audit -c polysaga.step_role=polysaga_step' \
--     psql -v ON_ERROR_STOP=1 -f scripts/sql/least-privilege-roles.sql
--   psql -c '\password polysaga_audit'      # then ALTER ROLE … LOGIN (or set the passwords below)
--
-- Settings (all optional): polysaga.audit_role (default polysaga_audit), polysaga.step_role
-- (default polysaga_step), polysaga.audit_password and polysaga.step_password (when set, the role
-- gets LOGIN and that password; otherwise it is created NOLOGIN and left as it is).
--
-- The audit role (POSTGRES_AUDIT_USER of the worker) may:
--   uds3_saga_events            SELECT, INSERT (and its id sequence) - never UPDATE, DELETE, TRUNCATE
--   polysaga_idempotency        SELECT, INSERT, UPDATE (write-ahead records of S3 and vector steps)
--   polysaga_blobs              SELECT, INSERT, UPDATE, DELETE (big payloads and before-images)
--   polysaga_schema_migrations and the monitoring views: SELECT
-- The step role (POSTGRES_STEP_USER, the role of postgres steps) may:
--   polysaga_idempotency        SELECT, INSERT, UPDATE: a postgres step claims its idempotency key
--                               in the step's own transaction, which makes it run exactly once
--   nothing else of polysaga    no privilege on uds3_saga_events, polysaga_blobs, the migrations
--                               table or the views; grant it your application tables yourself:
--                               GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO polysaga_step;
DO $roles$
DECLARE
  audit_role text := coalesce(nullif(current_setting('polysaga.audit_role', true), ''), 'polysaga_audit');
  step_role text := coalesce(nullif(current_setting('polysaga.step_role', true), ''), 'polysaga_step');
  passwords text[] := ARRAY[
    nullif(current_setting('polysaga.audit_password', true), ''),
    nullif(current_setting('polysaga.step_password', true), '')
  ];
  roles text[];
  s text := current_schema();
  t text;
  seq text;
  i int;
BEGIN
  roles := ARRAY[audit_role, step_role];
  IF audit_role = step_role THEN
    RAISE EXCEPTION 'polysaga.audit_role and polysaga.step_role must differ (both are %)', audit_role;
  END IF;
  FOREACH t IN ARRAY ARRAY['uds3_saga_events', 'polysaga_idempotency', 'polysaga_blobs', 'polysaga_schema_migrations'] LOOP
    IF to_regclass(format('%I.%I', s, t)) IS NULL THEN
      RAISE EXCEPTION 'table %.% is missing: run `polysaga migrate` first, as this user', s, t;
    END IF;
  END LOOP;

  FOR i IN 1..2 LOOP
    IF roles[i] = current_user OR EXISTS (
      SELECT 1 FROM pg_roles WHERE rolname = roles[i] AND (rolsuper OR rolbypassrls OR rolcreaterole)
    ) THEN
      RAISE EXCEPTION 'role % is the owner, a superuser or may create roles: choose a role of its own', roles[i];
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = roles[i]) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', roles[i]);
      EXCEPTION WHEN duplicate_object THEN
        NULL; -- created by a concurrent run: roles are cluster-wide
      END;
    END IF;
    IF passwords[i] IS NOT NULL THEN
      EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', roles[i], passwords[i]);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), roles[i]);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, roles[i]);
    -- Start from nothing on polysaga's objects, then grant what each role needs.
    FOR t IN
      SELECT c.relname FROM pg_class c
       WHERE c.relnamespace = s::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
         AND (c.relname = 'uds3_saga_events' OR c.relname LIKE 'polysaga\_%')
    LOOP
      EXECUTE format('REVOKE ALL ON %I.%I FROM %I', s, t, roles[i]);
    END LOOP;
  END LOOP;

  -- Nobody else gets the audit trail through PUBLIC either.
  EXECUTE format('REVOKE ALL ON %I.uds3_saga_events FROM PUBLIC', s);

  EXECUTE format('GRANT SELECT, INSERT ON %I.uds3_saga_events TO %I', s, audit_role);
  seq := pg_get_serial_sequence(format('%I.uds3_saga_events', s), 'id');
  IF seq IS NOT NULL THEN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', seq, audit_role);
  END IF;
  EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.polysaga_idempotency TO %I, %I', s, audit_role, step_role);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.polysaga_blobs TO %I', s, audit_role);
  EXECUTE format('GRANT SELECT ON %I.polysaga_schema_migrations TO %I', s, audit_role);
  FOR t IN
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = s::regnamespace AND c.relkind IN ('v', 'm') AND c.relname LIKE 'polysaga\_%'
  LOOP
    EXECUTE format('GRANT SELECT ON %I.%I TO %I', s, t, audit_role);
  END LOOP;
END
$roles$;
