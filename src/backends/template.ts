/**
 * `{{result.a.b}}` / `{{payload.x}}` placeholders in compensation payloads, filled from the
 * forward step's result and payload. A string that is exactly one placeholder becomes the raw
 * value (any JSON type); placeholders inside longer strings are interpolated as text.
 */
import type { Json, JsonObject } from '../saga/contracts.js';
import { FailureTypes } from '../saga/contracts.js';
import { PermanentError } from './errors.js';

const WHOLE = /^\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)*)\s*\}\}$/;
const ANY = /\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)*)\s*\}\}/g;

function lookup(scope: JsonObject, path: string): Json {
  let cur: Json | undefined = scope;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') {
      cur = undefined;
      break;
    }
    cur = Array.isArray(cur) ? cur[Number(part)] : cur[part];
  }
  if (cur === undefined)
    throw new PermanentError(`placeholder {{${path}}} has no value`, FailureTypes.InvalidPayload);
  return cur;
}

/** Returns `value` with every placeholder replaced from `scope` ({ result, payload }). */
export function fillTemplate(value: Json, scope: JsonObject): Json {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(scope, whole[1]!);
    return value.replace(ANY, (_m, path: string) => {
      const v = lookup(scope, path);
      return typeof v === 'string' ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, scope));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillTemplate(v, scope)]));
  }
  return value;
}
