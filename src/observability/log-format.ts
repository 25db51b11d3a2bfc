/**
 * The format of the worker's log lines. A module of its own so that the CLI can choose the
 * format without loading the Temporal worker package (`logging.ts` does).
 */

/** `json`: one JSON object per line; `pretty`: a readable line for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** The format for `POLYSAGA_LOG_FORMAT` (unset: `pretty` on a terminal, else `json`). */
export function resolveLogFormat(configured: LogFormat | undefined, isTty: boolean): LogFormat {
  return configured ?? (isTty ? 'pretty' : 'json');
}
