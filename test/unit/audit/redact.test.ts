import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../../../src/audit/redact.js';
import type { JsonObject } from '../../../src/saga/contracts.js';

describe('redact', () => {
  it('replaces matching keys at any depth, case-insensitively, without touching the input', () => {
    const input: JsonObject = {
      Password: 'p',
      user: { name: 'ann', api_key: 'k', tokens: [{ TOKEN: 't' }, 'token'] },
      list: [[{ secret: { nested: 'x' } }]],
      n: 1,
      nothing: null,
    };
    const copy = structuredClone(input);
    expect(redact(input, ['password', 'API_KEY', 'token', 'secret'])).toEqual({
      Password: REDACTED,
      user: { name: 'ann', api_key: REDACTED, tokens: [{ TOKEN: REDACTED }, 'token'] },
      list: [[{ secret: REDACTED }]],
      n: 1,
      nothing: null,
    });
    expect(input).toEqual(copy);
  });

  it('matches whole keys only', () => {
    expect(redact({ passwordHint: 'h', mypassword: 'x', password: 'y' }, ['password'])).toEqual({
      passwordHint: 'h',
      mypassword: 'x',
      password: REDACTED,
    });
  });

  it('leaves everything as it is without sensitive fields, and passes undefined through', () => {
    const v = { password: 'p' };
    expect(redact(v, [])).toBe(v);
    expect(redact(undefined, ['password'])).toBeUndefined();
    expect(redact('password', ['password'])).toBe('password');
  });
});
