/**
 * The operator's side of a saga run: the status query, the abort signal and update, the
 * `retryCompensation` and `resolve` updates with their validators, and the wait in FAILED until
 * an operator retries or resolves. Deterministic workflow code.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { abortRefusal, failedPhase, operatorRefusal } from '../saga/operator.js';
import type { ResolveInput } from '../saga/status.js';
import {
  abortSignal,
  abortUpdate,
  resolveUpdate,
  retryCompensationUpdate,
  statusQuery,
} from './definitions.js';
import type { EngineAudit } from './engine-audit.js';
import { refused } from './engine-failures.js';
import type { EngineStatus } from './engine-status.js';

/** What the operator handlers need of the saga run. */
export interface OperatorHost {
  readonly book: EngineStatus;
  readonly audit: EngineAudit;
  /** Whether a step that cannot be undone has succeeded (an abort then completes forward). */
  pivotPassed(): boolean;
  /** Cancels the running step's activity when an abort will unwind. */
  cancelRunningStep(): void;
  /** The steps whose compensations are still on the stack. */
  pendingSteps(): string[];
}

/** The operator requests of one saga run and the handlers that receive them. */
export class EngineOperator {
  /** The reason of the first abort request (null: none). */
  abortReason: string | null = null;
  /**
   * Rounds ended (the saga reached FAILED, ROLLED_BACK or RESOLVED, or a retried step
   * succeeded): a `retryCompensation` update returns when the round it started ends.
   */
  rounds = 0;
  private retryRequested = false;
  private resolveRequested: ResolveInput | null = null;

  constructor(private readonly host: OperatorHost) {}

  /** Registers the query, signal and update handlers (at the start of the workflow). */
  register(): void {
    const { book } = this.host;
    const sagaId = book.status.sagaId;
    setHandler(statusQuery, () => book.snapshot());
    setHandler(abortSignal, (arg) => this.requestAbort(arg?.reason ?? 'abort requested'));
    setHandler(
      abortUpdate,
      (arg) => {
        this.requestAbort(arg?.reason ?? 'abort requested');
        return book.snapshot();
      },
      {
        validator: (_arg: { reason?: string }) => {
          const why = abortRefusal(sagaId, book.status.state, {
            running: true,
            failedPhase: failedPhase(book.status.failures),
          });
          if (why !== null) throw refused(book.status.state, why);
        },
      },
    );
    setHandler(
      retryCompensationUpdate,
      async () => {
        const target = this.rounds + 1;
        this.retryRequested = true;
        await condition(() => this.rounds >= target);
        return book.snapshot();
      },
      {
        validator: () => {
          const why = operatorRefusal(sagaId, 'retry', book.status.state, { running: true });
          if (why !== null) throw refused(book.status.state, why);
        },
      },
    );
    setHandler(
      resolveUpdate,
      async (input) => {
        this.resolveRequested = input;
        await condition(() => book.status.state === 'RESOLVED');
        return book.snapshot();
      },
      {
        validator: (input: ResolveInput) => {
          const why = operatorRefusal(sagaId, 'resolve', book.status.state, { running: true });
          if (why !== null) throw refused(book.status.state, why);
          const reason: unknown = (input as Partial<ResolveInput> | undefined)?.reason;
          if (typeof reason !== 'string' || reason.trim() === '') throw new Error('resolve needs a reason');
        },
      },
    );
  }

  /** Takes the first abort request of a PENDING or EXECUTING saga; later ones are ignored. */
  requestAbort(reason: string): void {
    const { book } = this.host;
    if (this.abortReason !== null) return;
    if (book.status.state !== 'PENDING' && book.status.state !== 'EXECUTING') {
      book.log('warn', `abort ignored in state ${book.status.state}`);
      return;
    }
    this.abortReason = reason;
    book.status.abortRequested = true;
    book.log(
      'warn',
      `abort requested: ${reason}${this.host.pivotPassed() ? ' (after the pivot: completing forward)' : ''}`,
    );
    this.host.cancelRunningStep();
  }

  /** Waits in FAILED for an operator; records SAGA_RETRIED or SAGA_RESOLVED. */
  async awaitOperator(): Promise<'retry' | 'resolve'> {
    const { book, audit } = this.host;
    book.log('error', `saga FAILED, waiting for an operator (retryCompensation or resolve)`);
    await audit.flush();
    await condition(() => this.retryRequested || this.resolveRequested !== null);
    if (this.resolveRequested !== null) {
      const r = this.resolveRequested;
      book.status.resolution = { reason: r.reason, by: r.by ?? null };
      await audit.event('SAGA_RESOLVED', null, { payload: { reason: r.reason, by: r.by ?? null } });
      book.setState('RESOLVED');
      this.retryRequested = false;
      this.rounds += 1;
      book.log('info', `saga resolved by operator: ${r.reason}`);
      return 'resolve';
    }
    this.retryRequested = false;
    await audit.event('SAGA_RETRIED', null, { payload: { pending: this.host.pendingSteps() } });
    book.log('info', 'operator retry');
    return 'retry';
  }
}
