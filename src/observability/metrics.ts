/**
 * polysaga's own Prometheus metrics, and the worker's `/metrics` endpoint.
 *
 * Counted where the audit row of a transition is inserted (`uds3_saga_events`, idempotent by
 * (saga id, seq)): a retried activity, a replayed workflow or a second worker that writes the
 * same row again counts nothing, so the sum over all workers counts every transition once.
 * A row counts in the worker that inserted it; sum over workers in PromQL.
 *
 * The endpoint serves this registry followed by the Temporal SDK's runtime metrics (the core's
 * own Prometheus exporter on a loopback port, see {@link installObservabilityRuntime}), so one
 * scrape target has both.
 */
import { TERMINAL_EVENT_STATUSES } from '../audit/sagas.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditEvent } from '../audit/event-store.js';
import type { SagaEventInput } from '../saga/contracts.js';

/** backend/operation of the step or compensation an outcome row belongs to. */
export interface TransitionLabels {
  kind: 'step' | 'compensation';
  backend: string;
  /** The forward operation (`insert`), or the compensation's name (`relational_delete`). */
  operation: string;
}

/** Receives every audit row a worker inserted (not the rows a retry found already stored). */
export interface TransitionObserver {
  recorded(event: SagaEventInput, labels?: TransitionLabels): Promise<void>;
}

/** Every metric name polysaga exports (the dashboard test checks its queries against these). */
export const METRIC_NAMES = {
  started: 'polysaga_sagas_started_total',
  committed: 'polysaga_sagas_committed_total',
  rolledBack: 'polysaga_sagas_rolled_back_total',
  failed: 'polysaga_sagas_failed_total',
  resolved: 'polysaga_sagas_resolved_total',
  partialRollbackFailures: 'polysaga_partial_rollback_failures_total',
  compensationFailures: 'polysaga_compensation_failures_total',
  stepDuration: 'polysaga_step_duration_seconds',
  compensationDuration: 'polysaga_compensation_duration_seconds',
  rollbackDuration: 'polysaga_rollback_duration_seconds',
  inFlight: 'polysaga_sagas_in_flight',
  awaitingOperator: 'polysaga_sagas_awaiting_operator',
} as const;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface SagaMetricsOptions {
  /** Reads a saga's audit trail (rollback latency and partial failures are measured from it). */
  readTrail?: (sagaId: string) => Promise<AuditEvent[]>;
  /** Pool over `uds3_saga_events` for the in-flight gauges (computed at scrape time). */
  pool?: pg.Pool;
  /** The in-flight query runs at most once per this many ms (default 10 s). */
  inFlightCacheMs?: number;
  /** Called when a metric could not be updated (never thrown into an activity). */
  onError?: (err: unknown) => void;
}

/** The registry of polysaga's metrics and the observer that feeds it. */
export class SagaMetrics implements TransitionObserver {
  readonly registry = new Registry();
  private readonly sagas: Record<'started' | 'committed' | 'rolledBack' | 'failed' | 'resolved', Counter>;
  private readonly partial: Counter;
  private readonly compensationFailures: Counter;
  private readonly stepDuration: Histogram;
  private readonly compensationDuration: Histogram;
  private readonly rollbackDuration: Histogram;
  private inFlightAt = 0;
  private inFlightRows: { saga_name: string | null; in_flight: string; awaiting: string }[] = [];

  constructor(private readonly options: SagaMetricsOptions = {}) {
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[] = ['saga']) =>
      new Counter({ name, help, labelNames, registers: r });
    this.sagas = {
      started: counter(METRIC_NAMES.started, 'Sagas started (SAGA_STARTED rows), by saga name.'),
      committed: counter(METRIC_NAMES.committed, 'Sagas that reached COMMITTED, by saga name.'),
      rolledBack: counter(
        METRIC_NAMES.rolledBack,
        'Sagas that reached ROLLED_BACK (undone completely, also after `compensate`), by saga name.',
      ),
      failed: counter(
        METRIC_NAMES.failed,
        'Sagas that reached FAILED (waiting for an operator); again after each failed retry.',
      ),
      resolved: counter(METRIC_NAMES.resolved, 'FAILED sagas closed by an operator (RESOLVED).'),
    };
    this.partial = counter(
      METRIC_NAMES.partialRollbackFailures,
      'Rollbacks that left effects behind: FAILED sagas with at least one failed compensation.',
    );
    this.compensationFailures = counter(
      METRIC_NAMES.compensationFailures,
      'Compensations that failed for good (COMPENSATION_FAIL rows), by saga, backend and compensation.',
      ['saga', 'backend', 'operation'],
    );
    const histogram = (name: string, help: string, labelNames: string[]) =>
      new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: r });
    this.stepDuration = histogram(
      METRIC_NAMES.stepDuration,
      'Duration of the final attempt of each step (outcome success|failure), seconds.',
      ['saga', 'backend', 'operation', 'outcome'],
    );
    this.compensationDuration = histogram(
      METRIC_NAMES.compensationDuration,
      'Duration of the final attempt of each compensation (operation = compensation name), seconds.',
      ['saga', 'backend', 'operation', 'outcome'],
    );
    this.rollbackDuration = histogram(
      METRIC_NAMES.rollbackDuration,
      'From the failure (or abort) to ROLLED_BACK or FAILED, seconds; outcome rolled_back|failed.',
      ['saga', 'outcome'],
    );
    if (options.pool) {
      const inFlight = () => this.inFlight();
      new Gauge({
        name: METRIC_NAMES.inFlight,
        help: 'Sagas whose latest audit row is not terminal (running or compensating), from uds3_saga_events; the same in every worker: use max().',
        labelNames: ['saga'],
        registers: r,
        async collect() {
          this.reset();
          for (const row of await inFlight()) this.set({ saga: row.saga_name ?? '' }, Number(row.in_flight));
        },
      });
      new Gauge({
        name: METRIC_NAMES.awaitingOperator,
        help: 'Sagas whose latest audit row is SAGA_FAILED (open, waiting for retry or resolve); the same in every worker: use max().',
        labelNames: ['saga'],
        registers: r,
        async collect() {
          this.reset();
          for (const row of await inFlight()) this.set({ saga: row.saga_name ?? '' }, Number(row.awaiting));
        },
      });
    }
  }

  /** {@link TransitionObserver}: updates the counters and histograms for one inserted row. */
  async recorded(event: SagaEventInput, labels?: TransitionLabels): Promise<void> {
    try {
      const saga = event.sagaName ?? '';
      switch (event.status) {
        case 'SAGA_STARTED':
          this.sagas.started.inc({ saga });
          return;
        case 'SAGA_COMMITTED':
          this.sagas.committed.inc({ saga });
          return;
        case 'SAGA_RESOLVED':
          this.sagas.resolved.inc({ saga });
          return;
        case 'SAGA_ROLLED_BACK':
          this.sagas.rolledBack.inc({ saga });
          await this.rollbackEnded(event, 'rolled_back');
          return;
        case 'SAGA_FAILED':
          this.sagas.failed.inc({ saga });
          await this.rollbackEnded(event, 'failed');
          return;
        case 'STEP_SUCCESS':
        case 'STEP_FAIL':
        case 'COMPENSATION_SUCCESS':
        case 'COMPENSATION_FAIL': {
          if (!labels) return;
          const outcome = event.status.endsWith('SUCCESS') ? 'success' : 'failure';
          const l = { saga, backend: labels.backend, operation: labels.operation, outcome };
          const seconds = (event.durationMs ?? 0) / 1000;
          if (labels.kind === 'step') this.stepDuration.observe(l, seconds);
          else {
            this.compensationDuration.observe(l, seconds);
            if (outcome === 'failure')
              this.compensationFailures.inc({ saga, backend: labels.backend, operation: labels.operation });
          }
          return;
        }
        default:
          return;
      }
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  /** Rollback latency and partial failure of a saga that just reached ROLLED_BACK or FAILED. */
  private async rollbackEnded(event: SagaEventInput, outcome: 'rolled_back' | 'failed'): Promise<void> {
    if (!this.options.readTrail) return;
    const trail = await this.options.readTrail(event.sagaId);
    // The same definition as polysaga_saga_outcomes.rollback_latency_ms: the first compensation
    // start (or, with nothing to compensate, the failure / abort) until this row.
    const end = trail.find((e) => e.seq === event.seq)?.createdAt;
    const previousEnd = trail
      .filter((e) => e.seq < event.seq && (e.status === 'SAGA_ROLLED_BACK' || e.status === 'SAGA_FAILED'))
      .at(-1)?.seq;
    // A retry after FAILED measures from the retry; otherwise from the first failure.
    const since = trail.filter((e) => previousEnd === undefined || e.seq > previousEnd);
    const start =
      since.find((e) => e.status === 'COMPENSATION_STARTED')?.createdAt ??
      since.find((e) => e.status === 'STEP_FAIL' || e.status === 'SAGA_ABORTED')?.createdAt;
    const saga = event.sagaName ?? '';
    if (end && start)
      this.rollbackDuration.observe({ saga, outcome }, (end.getTime() - start.getTime()) / 1000);
    if (outcome === 'failed' && since.some((e) => e.status === 'COMPENSATION_FAIL'))
      this.partial.inc({ saga });
  }

  private async inFlight(): Promise<{ saga_name: string | null; in_flight: string; awaiting: string }[]> {
    const pool = this.options.pool;
    if (!pool) return [];
    if (Date.now() - this.inFlightAt < (this.options.inFlightCacheMs ?? 10_000)) return this.inFlightRows;
    try {
      const r = await pool.query<{ saga_name: string | null; in_flight: string; awaiting: string }>(
        `SELECT saga_name,
                count(*) FILTER (WHERE NOT (status = ANY($1))) AS in_flight,
                count(*) FILTER (WHERE status = 'SAGA_FAILED') AS awaiting
           FROM (SELECT DISTINCT ON (saga_id) saga_id, saga_name, status
                   FROM uds3_saga_events ORDER BY saga_id, seq DESC) last
          GROUP BY saga_name`,
        [TERMINAL_EVENT_STATUSES],
      );
      this.inFlightRows = r.rows;
      this.inFlightAt = Date.now();
    } catch (err) {
      this.options.onError?.(err);
    }
    return this.inFlightRows;
  }

  /** The exposition text of polysaga's metrics. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** The port it listens on (useful with port 0). */
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface ServeMetricsOptions {
  port: number;
  /** Bind address (default 0.0.0.0). */
  host?: string;
  /** The SDK runtime's Prometheus endpoint whose text is appended (see installObservabilityRuntime). */
  sdkMetricsUrl?: string;
}

/**
 * Serves `GET /metrics`: polysaga's registry, then the Temporal SDK's runtime metrics when
 * `sdkMetricsUrl` is given (a failed fetch of those is reported as a comment, not an error).
 */
export async function serveMetrics(
  metrics: SagaMetrics,
  options: ServeMetricsOptions,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    void (async () => {
      try {
        let text = await metrics.metrics();
        if (options.sdkMetricsUrl) {
          try {
            const sdk = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
            text += `\n# Temporal SDK runtime metrics\n${await sdk.text()}`;
          } catch (err) {
            text += `\n# Temporal SDK runtime metrics unavailable: ${(err as Error).message}\n`;
          }
        }
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1'}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A TCP port free on 127.0.0.1 right now (for the SDK runtime's own Prometheus exporter). */
export async function freeLoopbackPort(): Promise<number> {
  const { createServer: createNetServer } = await import('node:net');
  return new Promise<number>((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
