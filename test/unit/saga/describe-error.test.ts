/** describeError: the one line shown for a failure (workflow, recover). */
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describeError } from '../../../src/saga/errors.js';
import { describe, expect, it } from 'vitest';

describe('describeError', () => {
  it('names the failure type of an application failure, inside an activity failure or not', () => {
    const app = ApplicationFailure.nonRetryable('row 7 of t changed since', 'polysaga.Conflict');
    expect(describeError(app)).toBe('polysaga.Conflict: row 7 of t changed since');
    const wrapped = new ActivityFailure(
      'Activity task failed',
      'executeStep',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      app,
    );
    expect(describeError(wrapped)).toBe('polysaga.Conflict: row 7 of t changed since');
  });

  it('gives the message of any other error, and the string of anything else', () => {
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError(ApplicationFailure.create({ message: 'untyped' }))).toBe('untyped');
    expect(describeError(42)).toBe('42');
  });
});
