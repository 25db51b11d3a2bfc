import { describe, expect, it } from 'vitest';
import { SAGA_STATES, type EventStatus } from '../../../src/saga/contracts.js';
import {
  canTransition,
  checkEventSequence,
  releasesIdentityLock,
  SAGA_TRANSITIONS,
} from '../../../src/saga/states.js';

const seq = (...items: string[]) =>
  items.map((s, i) => {
    const [status, stepId] = s.split(':') as [EventStatus, string | undefined];
    return { seq: i + 1, status, stepId: stepId ?? null };
  });

describe('state machine', () => {
  it('allows the design transitions and nothing from closed states', () => {
    expect(canTransition('PENDING', 'EXECUTING')).toBe(true);
    expect(canTransition('EXECUTING', 'COMMITTED')).toBe(true);
    expect(canTransition('EXECUTING', 'COMPENSATING')).toBe(true);
    expect(canTransition('COMPENSATING', 'ROLLED_BACK')).toBe(true);
    expect(canTransition('COMPENSATING', 'FAILED')).toBe(true);
    expect(canTransition('FAILED', 'RESOLVED')).toBe(true);
    expect(canTransition('FAILED', 'COMPENSATING')).toBe(true);
    expect(canTransition('COMMITTED', 'COMPENSATING')).toBe(true);
    expect(canTransition('PENDING', 'COMMITTED')).toBe(false);
    expect(canTransition('ROLLED_BACK', 'EXECUTING')).toBe(false);
    expect(SAGA_TRANSITIONS.RESOLVED).toEqual([]);
    for (const s of SAGA_STATES) expect(SAGA_TRANSITIONS[s]).toBeDefined();
  });

  it('holds the identity lock only while not closed (and while FAILED)', () => {
    expect(SAGA_STATES.filter(releasesIdentityLock)).toEqual(['COMMITTED', 'ROLLED_BACK', 'RESOLVED']);
  });
});

describe('checkEventSequence', () => {
  it('accepts a committed saga', () => {
    const r = checkEventSequence(
      seq(
        'SAGA_STARTED',
        'STEP_PENDING:a',
        'STEP_SUCCESS:a',
        'STEP_PENDING:b',
        'STEP_SUCCESS:b',
        'SAGA_COMMITTED',
      ),
    );
    expect(r).toEqual({ ok: true, state: 'COMMITTED', errors: [] });
  });

  it('accepts a rollback, a parallel unwind, FAILED → retry → ROLLED_BACK and resolve', () => {
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'STEP_PENDING:b',
          'STEP_FAIL:b',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_SUCCESS:a',
          'SAGA_ROLLED_BACK',
        ),
      ),
    ).toMatchObject({ ok: true, state: 'ROLLED_BACK' });
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'STEP_PENDING:b',
          'STEP_SUCCESS:b',
          'STEP_PENDING:c',
          'STEP_FAIL:c',
          'COMPENSATION_STARTED:b',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_SUCCESS:a',
          'COMPENSATION_FAIL:b',
          'SAGA_FAILED',
          'SAGA_RETRIED',
          'COMPENSATION_STARTED:b',
          'COMPENSATION_SUCCESS:b',
          'SAGA_ROLLED_BACK',
        ),
      ),
    ).toMatchObject({ ok: true, state: 'ROLLED_BACK' });
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'STEP_PENDING:b',
          'STEP_FAIL:b',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_FAIL:a',
          'SAGA_FAILED',
          'SAGA_RESOLVED',
        ),
      ),
    ).toMatchObject({ ok: true, state: 'RESOLVED' });
  });

  it('accepts an abort, and the undo of a committed saga continuing the seq', () => {
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'SAGA_ABORTED',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_SUCCESS:a',
          'SAGA_ROLLED_BACK',
        ),
      ).ok,
    ).toBe(true);
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'SAGA_COMMITTED',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_SUCCESS:a',
          'SAGA_ROLLED_BACK',
        ),
      ).state,
    ).toBe('ROLLED_BACK');
    expect(
      checkEventSequence(seq('SAGA_STARTED', 'STEP_PENDING:a', 'STEP_FAIL:a', 'SAGA_ROLLED_BACK')),
    ).toMatchObject({ ok: true, state: 'ROLLED_BACK' });
  });

  it('rejects gaps, unpaired events and events after the end', () => {
    const gap = [...seq('SAGA_STARTED'), { seq: 3, status: 'SAGA_COMMITTED' as const, stepId: null }];
    expect(checkEventSequence(gap).errors[0]).toContain('expected seq 2');
    expect(checkEventSequence(seq('STEP_PENDING:a')).ok).toBe(false);
    expect(checkEventSequence(seq('SAGA_STARTED', 'STEP_SUCCESS:a')).ok).toBe(false);
    expect(checkEventSequence(seq('SAGA_STARTED', 'STEP_PENDING:a', 'STEP_PENDING:b')).ok).toBe(false);
    expect(checkEventSequence(seq('SAGA_STARTED', 'STEP_PENDING:a', 'SAGA_COMMITTED')).ok).toBe(false);
    expect(checkEventSequence(seq('SAGA_STARTED', 'SAGA_COMMITTED', 'STEP_PENDING:a')).ok).toBe(false);
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'STEP_PENDING:b',
          'STEP_FAIL:b',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_FAIL:a',
          'SAGA_ROLLED_BACK',
        ),
      ).ok,
    ).toBe(false);
    expect(checkEventSequence(seq('SAGA_STARTED', 'SAGA_RESOLVED')).ok).toBe(false);
    expect(
      checkEventSequence(
        seq(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_FAIL:a',
          'COMPENSATION_STARTED:x',
          'COMPENSATION_FAIL:x',
          'SAGA_FAILED',
          'COMPENSATION_STARTED:x',
        ),
      ).ok,
    ).toBe(false);
  });
});
