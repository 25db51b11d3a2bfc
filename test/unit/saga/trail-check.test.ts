import { describe, expect, it } from 'vitest';
import { trailProblems, type TrailRow } from '../../helpers/trail.js';

/** Rows from `STATUS:step` lines, seq 1, 2, 3, … */
const rows = (...lines: string[]): TrailRow[] =>
  lines.map((l, i) => {
    const [status, stepId] = l.split(':');
    return { seq: i + 1, status: status!, stepId: stepId ?? null };
  });

describe('trailProblems (test/helpers/trail.ts, used by the fault suite)', () => {
  it('accepts a committed trail and a failed → retried → rolled back one', () => {
    expect(trailProblems(rows('SAGA_STARTED', 'STEP_PENDING:a', 'STEP_SUCCESS:a', 'SAGA_COMMITTED'))).toEqual(
      [],
    );
    expect(
      trailProblems(
        rows(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'STEP_PENDING:b',
          'STEP_FAIL:b',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_FAIL:a',
          'SAGA_FAILED',
          'SAGA_RETRIED',
          'COMPENSATION_STARTED:a',
          'COMPENSATION_SUCCESS:a',
          'SAGA_ROLLED_BACK',
        ),
      ),
    ).toEqual([]);
  });

  it('refuses gaps, a seq not starting at 1, unknown statuses and empty trails', () => {
    const gap = rows('SAGA_STARTED', 'STEP_PENDING:a', 'STEP_SUCCESS:a', 'SAGA_COMMITTED');
    gap[3]!.seq = 5;
    expect(trailProblems(gap).join('\n')).toMatch(/seq 5 is row 4/);
    expect(trailProblems(rows('SAGA_STARTED').map((r) => ({ ...r, seq: 2 }))).join('\n')).toMatch(
      /seq 2 is row 1/,
    );
    expect(trailProblems(rows('SAGA_STARTED', 'SAGA_EXPLODED'))).toContain(
      'seq 2: unknown status SAGA_EXPLODED',
    );
    expect(trailProblems([])).toEqual(['no audit rows']);
  });

  it('refuses an illegal transition and a transition recorded twice in one round', () => {
    expect(trailProblems(rows('SAGA_STARTED', 'STEP_SUCCESS:a')).length).toBeGreaterThan(0);
    // A step run twice without an operator retry in between (the state machine alone allows it).
    expect(
      trailProblems(
        rows(
          'SAGA_STARTED',
          'STEP_PENDING:a',
          'STEP_FAIL:a',
          'STEP_PENDING:a',
          'STEP_SUCCESS:a',
          'SAGA_COMMITTED',
        ),
      ),
    ).toEqual(['seq 4: duplicate transition STEP_PENDING:a']);
  });
});
