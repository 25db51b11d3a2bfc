/**
 * defineActions: the application's own functions as the backend `app` (no servers needed): its
 * catalog, the checks of its names, what an action and a rollback are given and must return,
 * and a JSON definition naming actions validated by a client that knows the catalog.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { actionsCatalog, defineActions } from '../../../src/backends/app/index.js';
import { builtinCatalogs } from '../../../src/backends/catalog.js';
import { connectBackend, defineBackend } from '../../../src/backends/define.js';
import type { Adapters } from '../../../src/backends/connect.js';
import { CUSTOM_STEP_OPTIONS } from '../../../src/saga/activity-options.js';
import type { ActionContext } from '../../../src/saga/actions.js';
import { catalogOf } from '../../../src/saga/catalog.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { validateDefinition } from '../../../src/saga/validate.js';

const seen: unknown[][] = [];
const actions = defineActions({
  reserveCredit(input: { account: string; amount: number }, ctx: ActionContext) {
    seen.push(['reserveCredit', input, ctx]);
    return Promise.resolve({ reservationId: `r-${ctx.idempotencyKey}` });
  },
  releaseCredit(input: { account: string }, result: { reservationId: string }, ctx: ActionContext) {
    seen.push(['releaseCredit', input, result, ctx]);
    return Promise.resolve({ released: result.reservationId });
  },
  noResult() {
    return Promise.resolve(undefined);
  },
  badResult() {
    return Promise.resolve([1, 2]);
  },
});

const connect = () => connectBackend(actions, { adapters: {} as Omit<Adapters, 'close'> });

describe('defineActions', () => {
  it('is the backend app: one operation per function, one compensation app.<name> per function', () => {
    expect(actions.name).toBe('app');
    expect(Object.keys(actions.catalog.operations)).toEqual([
      'badResult',
      'noResult',
      'releaseCredit',
      'reserveCredit',
    ]);
    expect(Object.keys(actions.catalog.compensations)).toEqual([
      'app.badResult',
      'app.noResult',
      'app.releaseCredit',
      'app.reserveCredit',
    ]);
    expect(actions.catalog.retry).toEqual(CUSTOM_STEP_OPTIONS);
    expect(actions.catalog.operations.reserveCredit?.payload.safeParse({ any: ['json'] }).success).toBe(true);
    expect(actions.catalog.operations.reserveCredit?.payload.safeParse([1]).success).toBe(false);
  });

  it('refuses bad names, non-functions, an empty map, and the reserved name in defineBackend', () => {
    expect(() => defineActions({ 'reserve-credit': () => Promise.resolve({}) })).toThrow(
      'defineActions: action name "reserve-credit" must match /^[A-Za-z][A-Za-z0-9_]*$/',
    );
    expect(() => defineActions({ reserve: 'nope' } as never)).toThrow(
      'defineActions: action "reserve" must be a function, got string',
    );
    expect(() => defineActions({})).toThrow('defineActions: give at least one action');
    expect(() =>
      defineBackend({
        ...actionsCatalog(['x']),
        connect: () => ({ operations: {}, compensations: {} }),
      }),
    ).toThrow(`backend name "app" is reserved for the application's actions (defineActions)`);
  });

  it('gives an action (input, ctx) and a rollback (input, result, ctx) with the compensation key', async () => {
    const { backend } = await connect();
    seen.length = 0;
    const result = await backend.operations.reserveCredit!({ account: 'a', amount: 3 } as never, {
      sagaId: 's-1',
      sagaName: 'credit',
      traceId: 't-1',
      stepId: 'reserve',
      backend: 'app',
      operation: 'reserveCredit',
      idempotencyKey: 's-1:reserve',
    });
    expect(result).toEqual({ reservationId: 'r-s-1:reserve' });
    const undone = await backend.compensations['app.releaseCredit']!({
      sagaId: 's-1',
      sagaName: 'credit',
      traceId: 't-1',
      stepId: 'reserve',
      backend: 'app',
      compensation: 'app.releaseCredit',
      payload: { account: 'a', amount: 3 },
      result,
      idempotencyKey: 's-1:reserve',
    });
    expect(undone).toEqual({ outcome: 'undone', detail: { released: 'r-s-1:reserve' } });
    const ctx = {
      sagaId: 's-1',
      sagaName: 'credit',
      traceId: 't-1',
      stepId: 'reserve',
      action: 'reserveCredit',
      idempotencyKey: 's-1:reserve',
      attempt: 1,
    };
    expect(seen).toEqual([
      ['reserveCredit', { account: 'a', amount: 3 }, ctx],
      [
        'releaseCredit',
        { account: 'a', amount: 3 },
        result,
        { ...ctx, action: 'releaseCredit', idempotencyKey: 's-1:reserve:compensation' },
      ],
    ]);
  });

  it('stores no result as {} and refuses a result that is not a JSON object (non-retryable)', async () => {
    const { backend } = await connect();
    const ctx = {
      sagaId: 's',
      traceId: 't',
      stepId: 'x',
      backend: 'app',
      operation: 'x',
      idempotencyKey: 's:x',
    };
    expect(await backend.operations.noResult!({} as never, ctx)).toEqual({});
    const err = await backend.operations.badResult!({} as never, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe(FailureTypes.InvalidPayload);
    expect((err as Error).message).toBe(
      'action "badResult" must return a JSON object (or nothing), got an array',
    );
  });

  it('lets a client that knows the catalog validate a JSON definition naming actions', () => {
    const catalog = catalogOf([...builtinCatalogs, actions.catalog]);
    const ok = validateDefinition(
      {
        name: 'credit',
        sagaId: 'credit-1',
        steps: [
          {
            id: 'reserve',
            backend: 'app',
            operation: 'reserveCredit',
            payload: { account: 'a', amount: 3 },
            compensation: 'app.releaseCredit',
          },
        ],
      },
      catalog,
    );
    expect(ok.ok).toBe(true);
    const bad = validateDefinition(
      {
        name: 'credit',
        sagaId: 'credit-2',
        steps: [
          {
            id: 'reserve',
            backend: 'app',
            operation: 'reserveCrdit',
            payload: {},
            compensation: null,
            kind: 'pivot',
          },
        ],
      },
      catalog,
    );
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues.map((i) => `${i.field}: ${i.message}`)).toEqual([
      'operation: unknown operation "reserveCrdit" of backend "app"; valid operations: badResult, noResult, releaseCredit, reserveCredit',
    ]);
  });
});
