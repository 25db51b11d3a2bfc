import { describe, expect, it } from 'vitest';
import { defaultIdempotencyKey } from '../../../src/saga/contracts.js';
import { SAGA_ID_PATTERN } from '../../../src/saga/definition.js';
import {
  belongsToScope,
  defaultTaskQueue,
  isScoped,
  kvPrefixOf,
  scopeDefinition,
  ScopeError,
  scopedKey,
  scopedSagaId,
  scopeOf,
  scopeOfId,
  unscopedSagaId,
} from '../../../src/saga/scope.js';

function scopeError(fn: () => unknown): ScopeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ScopeError);
    return err as ScopeError;
  }
  throw new Error('expected a ScopeError');
}

describe('scopeOf', () => {
  it('maps the defaults to the empty scope and anything else to <PROJECT_PREFIX>-<ENV>', () => {
    expect(scopeOf({ projectPrefix: 'polysaga', env: 'prod' })).toBe('');
    expect(scopeOf({ projectPrefix: 'polysaga', env: 'dev' })).toBe('polysaga-dev');
    expect(scopeOf({ projectPrefix: 'acme', env: 'prod' })).toBe('acme-prod');
    expect(scopeOf({ projectPrefix: 'acme_eu', env: 'staging' })).toBe('acme_eu-staging');
  });

  it('names PROJECT_PREFIX or ENV when one cannot be part of a name', () => {
    const p = scopeError(() => scopeOf({ projectPrefix: 'Acme/x', env: 'dev' }));
    expect(p.variable).toBe('PROJECT_PREFIX');
    expect(p.message).toContain('PROJECT_PREFIX');
    const e = scopeError(() => scopeOf({ projectPrefix: 'acme', env: 'dev-2' }));
    expect(e.variable).toBe('ENV');
    expect(e.message).toContain('ENV');
  });
});

describe('names of a scope', () => {
  it('keeps the task queue and Redis prefix of the empty scope, and names them after the scope otherwise', () => {
    expect(defaultTaskQueue('')).toBe('polysaga');
    expect(defaultTaskQueue('acme-dev')).toBe('acme-dev');
    expect(kvPrefixOf({ projectPrefix: 'polysaga', env: 'prod' })).toBe('polysaga');
    expect(kvPrefixOf({ projectPrefix: 'polysaga', env: 'dev' })).toBe('polysaga:dev');
    expect(kvPrefixOf({ projectPrefix: 'acme', env: 'staging' })).toBe('acme:staging');
  });

  it('scopes saga ids with @<scope>/ and leaves them alone in the empty scope', () => {
    expect(scopedSagaId('', 'order-42')).toBe('order-42');
    expect(scopedSagaId('acme-dev', 'order-42')).toBe('@acme-dev/order-42');
    // ids with a slash of their own stay unambiguous: the scope ends at the first slash
    expect(scopedSagaId('acme-dev', 'orders/42')).toBe('@acme-dev/orders/42');
    expect(scopeOfId('@acme-dev/orders/42')).toBe('acme-dev');
    expect(unscopedSagaId('acme-dev', '@acme-dev/orders/42')).toBe('orders/42');
    expect(unscopedSagaId('', 'orders/42')).toBe('orders/42');
  });

  it('never mistakes a saga id for a scoped one: saga ids start with a letter or digit', () => {
    expect(SAGA_ID_PATTERN.test('@acme-dev/x')).toBe(false);
    expect(isScoped('acme-dev/x')).toBe(false);
    expect(belongsToScope('', 'acme-dev/x')).toBe(true);
    expect(belongsToScope('acme-dev', 'acme-dev/x')).toBe(false);
    expect(scopedSagaId('acme-dev', 'acme-dev/x')).toBe('@acme-dev/acme-dev/x');
  });

  it('accepts an id already scoped to its own scope and refuses one of another scope, naming both', () => {
    expect(scopedSagaId('acme-dev', '@acme-dev/order-42')).toBe('@acme-dev/order-42');
    const other = scopeError(() => scopedSagaId('acme-dev', '@acme-staging/order-42'));
    expect(other.message).toMatch(/scope "acme-staging".*scope "acme-dev"/);
    const fromDefault = scopeError(() => scopedSagaId('', '@acme-staging/order-42'));
    expect(fromDefault.message).toMatch(/default scope/);
    // A scope is never a prefix of another's ids: the slash ends it.
    expect(belongsToScope('acme-dev', '@acme-dev2/x')).toBe(false);
  });

  it('scopes a definition: saga id, identity key, default and explicit idempotency keys; not payloads', () => {
    const def = {
      name: 'order',
      sagaId: 'order-42',
      traceId: 't-1',
      identityKey: 'doc-7',
      steps: [
        { id: 'row', idempotencyKey: defaultIdempotencyKey('order-42', 'row'), payload: { id: 'order-42' } },
        { id: 'call', idempotencyKey: 'charge-7', payload: {} },
      ],
    };
    const scoped = scopeDefinition('acme-dev', def);
    expect(scoped.sagaId).toBe('@acme-dev/order-42');
    expect(scoped.identityKey).toBe('@acme-dev/doc-7');
    expect(scoped.traceId).toBe('t-1');
    // The default key is the default key of the scoped saga id.
    expect(scoped.steps[0]!.idempotencyKey).toBe(defaultIdempotencyKey('@acme-dev/order-42', 'row'));
    expect(scoped.steps[1]!.idempotencyKey).toBe(scopedKey('acme-dev', 'charge-7'));
    expect(scoped.steps[0]!.payload).toEqual({ id: 'order-42' });
    // Scoping twice changes nothing (an undo run restarts the committed definition).
    expect(scopeDefinition('acme-dev', scoped)).toBe(scoped);
    expect(scopeDefinition('', def)).toBe(def);
  });
});
