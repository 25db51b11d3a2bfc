/**
 * creditSaga: a typed saga whose steps are the application's own actions (credit-actions.ts),
 * for the integration test on the dev server. Deterministic workflow code: it imports only the
 * actions' type.
 */
import type { SagaResult } from '../../../src/saga/status.js';
import { actionsOf, runTypedSaga } from '../../../src/workflows/typed-saga.js';
import type { CreditActions } from './credit-actions.js';

export interface CreditSagaInput {
  account: string;
  amount: number;
  /** Add the notice step (its action fails twice, then succeeds). */
  notify?: boolean;
  /** A last step naming an action and rollback by string (for unknown names). */
  extra?: { action: string; rollback?: string };
}

const app = actionsOf<CreditActions>();

/** reserve (released on unwind) → charge (refunded on unwind) → notice (not undone) → extra. */
export async function creditSaga(input: CreditSagaInput): Promise<SagaResult> {
  return runTypedSaga(
    {
      name: 'credit',
      plan: [
        { id: 'reserve', action: app.reserveCredit },
        { id: 'charge', action: app.chargeCard },
      ],
    },
    async (saga) => {
      const credit = { account: input.account, amount: input.amount };
      const { reservationId } = await saga.step({
        id: 'reserve',
        action: app.reserveCredit,
        rollback: app.releaseCredit,
        input: credit,
      });
      await saga.step({
        id: 'charge',
        action: app.chargeCard,
        rollback: app.refundCharge,
        input: { ...credit, reservationId },
      });
      if (input.notify)
        await saga.step({
          id: 'notice',
          action: app.sendNotice,
          input: { account: input.account },
          retry: { maximumAttempts: 3, initialInterval: '100ms' },
          timeout: '10s',
        });
      if (input.extra)
        await saga.step({
          id: 'extra',
          action: input.extra.action,
          rollback: input.extra.rollback ?? null,
          input: {},
        });
    },
  );
}
