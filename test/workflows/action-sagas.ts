/**
 * A typed saga whose steps run the application's own code (`saga.step({ id, action, rollback,
 * input })`), for the workflow tests. The actions exist only as a type here: the worker of the
 * workflow tests runs fake activities.
 */
import type { Action, Rollback } from '../../src/saga/actions.js';
import type { SagaResult } from '../../src/saga/status.js';
import { actionsOf, runTypedSaga } from '../../src/workflows/typed-saga.js';

interface Credit {
  account: string;
  amount: number;
}
interface Shipment {
  orderId: string;
  reservationId: string;
}

/** The shape of an application's action map, as `typeof actions` of `defineActions({ ... })` gives it. */
export interface OrderActions {
  reserveCredit: Action<Credit, { reservationId: string }>;
  releaseCredit: Rollback<Credit, { reservationId: string }>;
  createShipment: Action<Shipment, { shipmentId: string }>;
  cancelShipment: Rollback<Shipment, { shipmentId: string }>;
  sendConfirmation: Action<{ orderId: string }, { messageId: string }>;
}

export interface ActionStepsInput {
  orderId: string;
  account: string;
  amount: number;
  /** Run a last step naming an action by string (checked by the worker only). */
  extraAction?: string;
}

const app = actionsOf<OrderActions>();

/** reserve (undone by releaseCredit) → ship (undone by cancelShipment) → confirm (not undone). */
export async function actionStepsSaga(input: ActionStepsInput): Promise<SagaResult> {
  return runTypedSaga(
    {
      name: 'action-steps',
      plan: [
        { id: 'reserve', action: app.reserveCredit },
        { id: 'ship', action: app.createShipment },
        { id: 'confirm', action: app.sendConfirmation },
      ],
    },
    async (saga) => {
      const credit = await saga.step({
        id: 'reserve',
        action: app.reserveCredit,
        rollback: app.releaseCredit,
        input: { account: input.account, amount: input.amount },
      });
      await saga.step({
        id: 'ship',
        action: app.createShipment,
        rollback: app.cancelShipment,
        input: { orderId: input.orderId, reservationId: String(credit.reservationId) },
        retry: { maximumAttempts: 4, initialInterval: '10ms' },
        timeout: '5s',
      });
      await saga.step({ id: 'confirm', action: app.sendConfirmation, input: { orderId: input.orderId } });
      if (input.extraAction)
        await saga.step({ id: 'extra', action: input.extraAction, rollback: null, input: {} });
    },
  );
}

/** Never run: what the compiler refuses in a typed saga's action steps. */
export async function refusedByTheCompiler(): Promise<void> {
  await runTypedSaga({ name: 'never' }, async (saga) => {
    const typed = app;
    /* eslint-disable @typescript-eslint/no-unsafe-assignment -- the unknown name is the point */
    // @ts-expect-error an action the map does not have
    await saga.step({ id: 'a', action: typed.reserveCrdit, input: { account: 'a', amount: 1 } });
    /* eslint-enable @typescript-eslint/no-unsafe-assignment */
    // @ts-expect-error the input does not fit the action's parameter
    await saga.step({ id: 'b', action: typed.reserveCredit, input: { account: 'a' } });
    const mismatched = {
      id: 'c',
      action: typed.createShipment,
      rollback: typed.releaseCredit,
      input: { orderId: 'o', reservationId: 'r' },
    };
    // @ts-expect-error the rollback expects another action's input and result
    await saga.step(mismatched);
    const r = await saga.step({
      id: 'd',
      action: typed.reserveCredit,
      rollback: typed.releaseCredit,
      input: { account: 'a', amount: 1 },
    });
    // @ts-expect-error the result is the action's result type
    r.shipmentId satisfies string;
  });
}
