/**
 * Secrets masked by value at the activity boundary (docs/security.md, "Secrets masked by
 * value"): every activity's result and every error it throws pass through a
 * {@link SecretMasker}, so a configured secret echoed by a service, stored in a row or quoted in
 * a driver's error message reaches neither Temporal history nor the workflow as it is.
 */
import { SecretMasker } from '../audit/redact.js';
import { maskableSecrets, type Config } from '../config/index.js';

/** The masker of a configuration's secret values (see `maskableSecrets`). */
export function secretMaskerFor(config: Config): SecretMasker {
  return new SecretMasker(maskableSecrets(config).values);
}

/**
 * Wraps every function of `activities` (names kept): its result is masked, and whatever it
 * throws is masked in place (message, stack, details, causes) before Temporal sees it.
 */
export function maskActivities<T extends object>(activities: T, masker: SecretMasker): T {
  if (!masker.active) return activities;
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') {
      out[name] = fn;
      continue;
    }
    const f = fn as (...args: unknown[]) => unknown;
    out[name] = async (...args: unknown[]): Promise<unknown> => {
      try {
        return masker.json(await f(...args));
      } catch (err) {
        throw masker.error(err);
      }
    };
  }
  return out as T;
}
