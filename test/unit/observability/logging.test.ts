/** The worker's log lines: JSON with the saga fields on every line, or a readable line. */
import { describe, expect, it } from 'vitest';
import { formatLogLine, logRecord, resolveLogFormat } from '../../../src/observability/logging.js';

const at = BigInt(Date.UTC(2026, 11, 1, 12, 0, 0, 123)) * 1_000_000n;

describe('structured log lines', () => {
  it('an SDK activity line: sagaId from the workflow id, every meta field kept, timestamp in ISO', () => {
    const line = formatLogLine(
      {
        level: 'WARN',
        message: 'Activity failed',
        timestampNanos: at,
        meta: {
          sdkComponent: 'worker',
          workflowId: 'doc-42',
          activityType: 'runStep',
          stepId: 'row',
          traceId: 'abc',
          attempt: 3,
          big: 10n,
          error: new Error('boom'),
        },
      },
      'json',
    );
    expect(line.endsWith('\n')).toBe(true);
    const r = JSON.parse(line) as Record<string, unknown>;
    expect(r).toMatchObject({
      timestamp: '2026-12-01T12:00:00.123Z',
      level: 'WARN',
      message: 'Activity failed',
      sagaId: 'doc-42',
      stepId: 'row',
      traceId: 'abc',
      sdkComponent: 'worker',
      workflowId: 'doc-42',
      activityType: 'runStep',
      attempt: 3,
      big: '10',
      error: { name: 'Error', message: 'boom' },
    });
  });

  it('a worker line without a saga has the keys with null; a lock workflow is no saga', () => {
    expect(logRecord({ level: 'INFO', message: 'Worker started', timestampNanos: at })).toMatchObject({
      sagaId: null,
      stepId: null,
      traceId: null,
    });
    expect(
      logRecord({
        level: 'INFO',
        message: 'x',
        timestampNanos: at,
        meta: { workflowId: 'polysaga-identity:document:42' },
      }).sagaId,
    ).toBeNull();
  });

  it('pretty: one readable line with the saga and step in brackets', () => {
    const line = formatLogLine(
      {
        level: 'INFO',
        message: 'step row started',
        timestampNanos: at,
        meta: { sagaId: 's1', stepId: 'row', attempt: 1 },
      },
      'pretty',
    );
    expect(line).toBe('2026-12-01T12:00:00.123Z INFO  [s1 row] step row started  attempt=1\n');
  });

  it('format: configured wins; else pretty on a terminal, JSON otherwise', () => {
    expect(resolveLogFormat(undefined, true)).toBe('pretty');
    expect(resolveLogFormat(undefined, false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
  });
});
