-- 0004 monitoring views: the second seed's figures ("Monitoring & Alerts") computed from
-- uds3_saga_events, per saga name and time window. Definitions in docs/audit.md.

-- One row per saga: what its audit trail says about it.
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
  count(*)                                                                          AS event_count
FROM uds3_saga_events e
GROUP BY e.saga_id;

-- One row per saga with its outcome and rollback figures.
--   outcome: committed | rolled_back | failed (FAILED, or RESOLVED by an operator after FAILED) | NULL (running)
--   rollback_latency_ms: first compensation start (or, with nothing to compensate, the failure /
--   abort) until the first ROLLED_BACK or FAILED.
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
  r.event_count
FROM polysaga_saga_runs r;

-- The figures per saga name and bucket. p_bucket: a date_trunc unit ('minute', 'hour', 'day',
-- 'week', ...) applied in UTC, or NULL for one bucket per saga name covering [p_from, p_to).
-- A saga counts in the bucket in which it reached its (latest) terminal state.
CREATE OR REPLACE FUNCTION polysaga_saga_metrics_buckets(
  p_bucket text,
  p_from timestamptz DEFAULT '-infinity',
  p_to timestamptz DEFAULT 'infinity'
)
RETURNS TABLE (
  bucket_start timestamptz,
  saga_name text,
  finished bigint,
  committed bigint,
  rolled_back bigint,
  failed bigint,
  success_rate numeric,
  rollbacks bigint,
  rollback_rate numeric,
  avg_rollback_latency_ms numeric,
  p95_rollback_latency_ms numeric,
  max_rollback_latency_ms numeric,
  partial_rollback_failures bigint,
  compensation_failures bigint
)
LANGUAGE sql STABLE
AS $$
  SELECT
    CASE WHEN p_bucket IS NULL THEN p_from ELSE date_trunc(p_bucket, o.ended_at, 'UTC') END,
    o.saga_name,
    count(*),
    count(*) FILTER (WHERE o.outcome = 'committed'),
    count(*) FILTER (WHERE o.outcome = 'rolled_back'),
    count(*) FILTER (WHERE o.outcome = 'failed'),
    round(count(*) FILTER (WHERE o.outcome = 'committed')::numeric / count(*), 4),
    count(*) FILTER (WHERE o.rollback_triggered),
    round(count(*) FILTER (WHERE o.rollback_triggered)::numeric / count(*), 4),
    round(avg(o.rollback_latency_ms), 3),
    round((percentile_cont(0.95) WITHIN GROUP (ORDER BY o.rollback_latency_ms))::numeric, 3),
    max(o.rollback_latency_ms),
    count(*) FILTER (WHERE o.partial_rollback_failure),
    coalesce(sum(o.compensations_failed), 0)::bigint
  FROM polysaga_saga_outcomes o
  WHERE o.outcome IS NOT NULL
    AND o.ended_at >= p_from
    AND o.ended_at < p_to
  GROUP BY 1, 2
$$;

-- The figures per saga name for one window [p_from, p_to), e.g. the last 15 minutes:
--   SELECT * FROM polysaga_saga_metrics(now() - interval '15 minutes');
CREATE OR REPLACE FUNCTION polysaga_saga_metrics(p_from timestamptz, p_to timestamptz DEFAULT now())
RETURNS TABLE (
  saga_name text,
  finished bigint,
  committed bigint,
  rolled_back bigint,
  failed bigint,
  success_rate numeric,
  rollbacks bigint,
  rollback_rate numeric,
  avg_rollback_latency_ms numeric,
  p95_rollback_latency_ms numeric,
  max_rollback_latency_ms numeric,
  partial_rollback_failures bigint,
  compensation_failures bigint
)
LANGUAGE sql STABLE
AS $$
  SELECT m.saga_name, m.finished, m.committed, m.rolled_back, m.failed, m.success_rate, m.rollbacks,
         m.rollback_rate, m.avg_rollback_latency_ms, m.p95_rollback_latency_ms,
         m.max_rollback_latency_ms, m.partial_rollback_failures, m.compensation_failures
    FROM polysaga_saga_metrics_buckets(NULL, p_from, p_to) m
$$;

CREATE OR REPLACE VIEW polysaga_saga_metrics_hourly AS
SELECT * FROM polysaga_saga_metrics_buckets('hour');

CREATE OR REPLACE VIEW polysaga_saga_metrics_daily AS
SELECT * FROM polysaga_saga_metrics_buckets('day');
