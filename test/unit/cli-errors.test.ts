import { describe, expect, it } from 'vitest';
import { CliError, exitCodeFor, jsonError, wantsJson } from '../../src/cli/errors.js';
import { InvalidDefinitionError } from '../../src/saga/errors.js';

describe('CLI errors as JSON', () => {
  it('--json anywhere before `--` asks for JSON errors', () => {
    expect(wantsJson(['status', 'x', '--json'])).toBe(true);
    expect(wantsJson(['--json', 'list'])).toBe(true);
    expect(wantsJson(['start', '--', '--json'])).toBe(false);
    expect(wantsJson(['status', 'x'])).toBe(false);
  });

  it('names the exit status, the error class and the message; issues of an invalid definition', () => {
    expect(jsonError(new CliError('saga not found: x', 3), 3)).toEqual({
      error: { code: 'NOT_FOUND', name: 'CliError', message: 'saga not found: x', exitCode: 3 },
    });
    const invalid = new InvalidDefinitionError([{ stepId: 'a', field: 'operation', message: 'unknown' }]);
    const e = jsonError(invalid, exitCodeFor(invalid));
    expect(e.error).toMatchObject({ code: 'INVALID', name: 'InvalidDefinitionError', exitCode: 2 });
    expect(e.error.issues).toEqual([{ stepId: 'a', field: 'operation', message: 'unknown' }]);
    expect(jsonError("missing required argument 'sagaId'", 2).error).toMatchObject({
      code: 'INVALID',
      name: 'UsageError',
    });
  });
});
