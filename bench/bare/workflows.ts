/**
 * The bare Temporal saga the bench compares polysaga with, written in the style of Temporal's
 * saga sample (temporalio/samples-typescript, `saga`): one activity per write, each undo
 * pushed onto a list after its write succeeded, the list unwound newest-first on failure,
 * then the error rethrown (the workflow fails).
 *
 * `bareSaga` steps: insert row 1, insert row 2, insert row 3, then SET the key, or, when
 * `fail` is set, insert row 1 again (a duplicate: non-retryable) so that the 3 rows are deleted.
 * `parkedWorkflow` waits for `releaseSignal` (the memory figure).
 */
import { condition, defineSignal, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { BareActivities } from './activities.js';

const { insertRow, deleteRow, setKey } = proxyActivities<BareActivities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumAttempts: 5 },
});

/** Input of {@link bareSaga}. */
export interface BareSagaInput {
  /** Saga key: the rows are `<key>:1..3`, the Redis key is `redisKey`. */
  key: string;
  redisKey: string;
  /** Fail at the 4th write (duplicate row) to exercise the 3 undos. */
  fail: boolean;
}

type Compensation = { message: string; fn: () => Promise<void> };

/** The 4-write saga: 3 rows and 1 key, undone in reverse when a write fails. */
export async function bareSaga(input: BareSagaInput): Promise<void> {
  const compensations: Compensation[] = [];
  try {
    for (const n of [1, 2, 3]) {
      const id = `${input.key}:${n}`;
      await insertRow({ id, saga: input.key, v: n });
      compensations.unshift({ message: `reversing insert of ${id}`, fn: () => deleteRow({ id }) });
    }
    if (input.fail) await insertRow({ id: `${input.key}:1`, saga: input.key, v: 4 });
    else await setKey({ key: input.redisKey, value: input.key });
  } catch (err) {
    await compensate(compensations);
    throw err;
  }
}

async function compensate(compensations: Compensation[]): Promise<void> {
  for (const comp of compensations) {
    try {
      log.info(comp.message);
      await comp.fn();
    } catch (err) {
      log.error(`failed to compensate: ${(err as Error).message}`);
    }
  }
}

/** Signal that lets a {@link parkedWorkflow} finish. */
export const releaseSignal = defineSignal('releaseSignal');

/** Waits for {@link releaseSignal}: a workflow parked on a signal, as many sagas are in real life. */
export async function parkedWorkflow(): Promise<void> {
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  await condition(() => released);
}
