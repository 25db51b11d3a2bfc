-- 0008 scopes (PROJECT_PREFIX, ENV; docs/configuration.md, "Scopes"): in a scope, saga ids in
-- uds3_saga_events read `@<scope>/<sagaId>`. polysaga_saga_runs and polysaga_saga_outcomes gain a
-- `scope` column ('' for the default scope) so that a dashboard or query of one environment
-- keeps to its own sagas: `... WHERE scope = 'acme-staging'`. `polysaga recover` filters on the
-- saga id prefix itself. Nothing else changes: the column is appended, as CREATE OR REPLACE
-- VIEW requires.

CREATE OR REPLACE VIEW polysaga_saga_runs AS
SELECT
  e.saga_id,
  (array_agg(e.saga_name ORDER BY e.seq) FILTER (WHERE e.saga_name IS NOT NULL))[1] AS saga_name,
  (array_agg(e.trace_id ORDER BY e.seq) FILTER (WHERE e.trace_id IS NOT NULL))[1]   AS trace_id,
  min(e.created_at)                                                                 AS started_at,
  max(e.created_at)                                                                 AS last_event_at,
  max(e.seq)                                                                        AS last_seq,
  (array_agg(e.status ORDER BY e.seq DESC))[1]                                      AS last_status,
  (array_agg(e.status ORDER BY e.seq DESC)
     FILTER (WHERE e.status IN ('SAGA_COMMITTED', 'SAGA_ROLLED_BACK', 'SAGA_FAILED', 'SAGA_RESOLVED')))[1]
                                                                                    AS terminal_status,
  (array_agg(e.created_at ORDER BY e.seq DESC)
     FILTER (WHERE e.status IN ('SAGA_COMMITTED', 'SAGA_ROLLED_BACK', 'SAGA_FAILED', 'SAGA_RESOLVED')))[1]
                                                                                    AS ended_at,
  min(e.created_at) FILTER (WHERE e.status IN ('STEP_FAIL', 'SAGA_ABORTED'))         AS failed_at,
  min(e.created_at) FILTER (WHERE e.status = 'COMPENSATION_STARTED')                AS rollback_started_at,
  min(e.created_at) FILTER (WHERE e.status IN ('SAGA_ROLLED_BACK', 'SAGA_FAILED'))   AS rollback_ended_at,
  count(*) FILTER (WHERE e.status = 'STEP_SUCCESS')                                 AS steps_succeeded,
  count(*) FILTER (WHERE e.status = 'COMPENSATION_STARTED')                         AS compensations_started,
  count(*) FILTER (WHERE e.status = 'COMPENSATION_SUCCESS')                         AS compensations_succeeded,
  count(*) FILTER (WHERE e.status = 'COMPENSATION_FAIL')                            AS compensations_failed,
  count(*)                                                                          AS event_count,
  (array_agg(e.payload->>'origin' ORDER BY e.seq) FILTER (WHERE e.status = 'SAGA_STARTED'))[1]
                                                                                    AS origin,
  CASE WHEN left(e.saga_id, 1) = '@' AND strpos(e.saga_id, '/') > 2
       THEN substr(e.saga_id, 2, strpos(e.saga_id, '/') - 2)
       ELSE ''
  END                                                                               AS scope
FROM uds3_saga_events e
GROUP BY e.saga_id;

-- Unchanged from 0007 but for the appended scope column.
CREATE OR REPLACE VIEW polysaga_saga_outcomes AS
SELECT
  r.saga_id,
  r.saga_name,
  r.trace_id,
  r.started_at,
  r.ended_at,
  r.last_status,
  CASE r.terminal_status
    WHEN 'SAGA_COMMITTED'   THEN 'committed'
    WHEN 'SAGA_ROLLED_BACK' THEN 'rolled_back'
    WHEN 'SAGA_FAILED'      THEN 'failed'
    WHEN 'SAGA_RESOLVED'    THEN 'failed'
  END                                                                  AS outcome,
  coalesce(r.terminal_status IN ('SAGA_ROLLED_BACK', 'SAGA_FAILED', 'SAGA_RESOLVED'), false) AS rollback_triggered,
  CASE WHEN r.terminal_status IN ('SAGA_ROLLED_BACK', 'SAGA_FAILED', 'SAGA_RESOLVED')
            AND r.rollback_ended_at IS NOT NULL
       THEN round((extract(epoch FROM r.rollback_ended_at
                   - coalesce(r.rollback_started_at, r.failed_at, r.rollback_ended_at)) * 1000)::numeric, 3)
  END                                                                  AS rollback_latency_ms,
  r.compensations_failed > 0                                           AS partial_rollback_failure,
  r.compensations_failed,
  r.steps_succeeded,
  r.event_count,
  r.scope
FROM polysaga_saga_runs r
WHERE r.origin IS NULL;
