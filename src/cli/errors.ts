/**
 * Mapping of errors to the CLI's one-line messages and exit codes. Errors are recognised by
 * name, so this module imports nothing (the CLI loads it before any command runs).
 */

/** An error the CLI reports with a chosen exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const byName: Record<string, number> = {
  ConfigError: 2,
  InvalidDefinitionError: 2,
  PluginError: 2,
  // A stuck saga refuses abort/retry/resolve: the operation failed, the message says what to do.
  SagaStuckError: 1,
  SagaNotFoundError: 3,
  // A saga id of another scope (PROJECT_PREFIX, ENV): not a saga of this configuration.
  ScopeError: 3,
  IdentityLockedError: 4,
  ConnectionError: 5,
  TransportError: 5,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof Error) {
    const code = byName[err.name];
    if (code !== undefined) return code;
    if (
      /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|cannot reach|cannot connect|UNAVAILABLE/.test(
        err.message,
      )
    )
      return 5;
  }
  return 1;
}

export function formatError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

/** Whether the command line asks for machine-readable output (`--json` before any `--`). */
export function wantsJson(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--json') return true;
  }
  return false;
}

/** Symbolic codes of the exit statuses, for `--json` errors. */
const codeByExit: Record<number, string> = {
  1: 'FAILED',
  2: 'INVALID',
  3: 'NOT_FOUND',
  4: 'IDENTITY_LOCKED',
  5: 'UNREACHABLE',
};

/**
 * An error as `--json` prints it on stderr: `{"error": {"code", "name", "message", "exitCode"}}`.
 * `code` names the exit status (INVALID, NOT_FOUND, ...); `name` is the error's class;
 * InvalidDefinitionError adds `issues` (path and message of each finding).
 */
export function jsonError(
  err: unknown,
  exitCode: number,
): { error: { code: string; name: string; message: string; exitCode: number; issues?: unknown } } {
  const issues = (err as { issues?: unknown } | null)?.issues;
  return {
    error: {
      code: codeByExit[exitCode] ?? 'FAILED',
      name: err instanceof Error ? err.name : 'UsageError',
      message: formatError(err),
      exitCode,
      ...(Array.isArray(issues) ? { issues } : {}),
    },
  };
}
