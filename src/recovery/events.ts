/**
 * The one writer of recovery's audit rows. Recovery appends to a trail whose workflow is gone:
 * each row continues the trail's seq under its last run id, carries `recoveredBy` in its payload
 * and goes through the `recordEvent` activity function, as the engine's own rows do.
 */
import type { EventStatus, JsonObject, SagaActivities } from '../saga/contracts.js';
import type { TrailAnalysis } from './trail.js';

/** The optional fields of one recovery row. */
export interface RecoveryEventExtra {
  payload?: JsonObject;
  error?: string;
  attempt?: number;
  durationMs?: number;
}

/** Marks a payload as written by recovery. */
export function recoveryPayload(extra: JsonObject = {}): JsonObject {
  return { ...extra, recoveredBy: 'polysaga recover' };
}

/** Appends recovery's rows to one saga's trail, in order, and counts them. */
export class TrailEventWriter {
  private seq: number;
  /** Rows written so far. */
  written = 0;

  constructor(
    private readonly trail: Pick<TrailAnalysis, 'sagaId' | 'sagaName' | 'traceId' | 'runId' | 'lastSeq'>,
    private readonly recordEvent: SagaActivities['recordEvent'],
  ) {
    this.seq = trail.lastSeq;
  }

  /** Writes one row with the next seq. */
  async write(status: EventStatus, stepId: string | null, extra: RecoveryEventExtra = {}): Promise<void> {
    await this.recordEvent({
      sagaId: this.trail.sagaId,
      runId: this.trail.runId,
      seq: ++this.seq,
      stepId,
      status,
      sagaName: this.trail.sagaName,
      traceId: this.trail.traceId,
      ...extra,
      payload: recoveryPayload(extra.payload),
    });
    this.written += 1;
  }

  /** SAGA_FAILED with its phase (`forward` after the pivot, `compensation`) and the steps still to undo. */
  async sagaFailed(phase: 'forward' | 'compensation', error: string, pending: string[]): Promise<void> {
    await this.write('SAGA_FAILED', null, { error, payload: { phase, pending } });
  }
}
