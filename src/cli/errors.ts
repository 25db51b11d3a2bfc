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
  // A stuck saga refuses abort/retry/resolve: the operation failed, the message says what to do.
  SagaStuckError: 1,
  SagaNotFoundError: 3,
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
