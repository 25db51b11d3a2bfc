/** The operator commands' refusals (src/saga/operator.ts): one per saga state, naming the state and what fits. */
import { describe, expect, it } from 'vitest';
import { SAGA_STATES } from '../../../src/saga/contracts.js';
import { abortRefusal, failedPhase, operatorRefusal } from '../../../src/saga/operator.js';

const TEMPORAL_STATUS = /\b(COMPLETED|TERMINATED|TIMED_OUT|CANCELED|RUNNING)\b/;

describe('abortRefusal', () => {
  it('accepts only PENDING and EXECUTING', () => {
    for (const state of SAGA_STATES) {
      const why = abortRefusal('doc-1', state, { running: true });
      if (state === 'PENDING' || state === 'EXECUTING') expect(why).toBeNull();
      else {
        expect(why).toContain(`saga doc-1 is ${state}`);
        expect(why).not.toMatch(TEMPORAL_STATUS);
      }
    }
  });

  it('points a FAILED saga to retry and resolve, a COMMITTED one to compensate', () => {
    expect(abortRefusal('doc-1', 'FAILED', { running: true })).toMatch(
      /already tried to undo.*`polysaga retry doc-1` to run the failed compensations again.*`polysaga resolve doc-1 --reason <text>`/,
    );
    expect(abortRefusal('doc-1', 'FAILED', { running: true, failedPhase: 'step' })).toMatch(
      /failed after its pivot.*the failed step again/,
    );
    expect(abortRefusal('doc-1', 'COMMITTED', { running: false })).toContain('`polysaga compensate doc-1`');
    expect(abortRefusal('doc-1', 'ROLLED_BACK', { running: false })).toBe(
      'saga doc-1 is ROLLED_BACK: it has ended, so there is nothing to abort',
    );
  });
});

describe('operatorRefusal', () => {
  it('accepts only FAILED; names the state otherwise', () => {
    for (const command of ['retry', 'resolve'] as const)
      for (const state of SAGA_STATES) {
        const why = operatorRefusal('doc-1', command, state, { running: state !== 'ROLLED_BACK' });
        if (state === 'FAILED') expect(why).toBeNull();
        else {
          expect(why).toContain(`saga doc-1 is ${state}`);
          expect(why).toContain(`${command} applies only to a FAILED saga`);
          expect(why).not.toMatch(TEMPORAL_STATUS);
        }
      }
    expect(operatorRefusal('doc-1', 'resolve', 'COMPENSATING', { running: true })).toMatch(
      /COMPENSATING, not FAILED.*wait until it settles/,
    );
  });

  it('failedPhase: the newest failure decides', () => {
    expect(failedPhase([])).toBe('compensation');
    expect(failedPhase([{ phase: 'step' }, { phase: 'compensation' }])).toBe('compensation');
    expect(failedPhase([{ phase: 'step' }])).toBe('step');
  });
});
