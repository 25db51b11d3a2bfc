/**
 * Hostile input refused (docs/security.md, "Hostile input"; docs/definitions.md, "Values"):
 * checks on every value of a definition that no schema expresses, run by `validateDefinition`
 * before anything else (so before JSON.stringify and zod ever recurse into it).
 *
 * Refused, each with the path of the field: nesting deeper than {@link MAX_DEPTH}; a cycle; a
 * string or key holding NUL (U+0000: PostgreSQL text and jsonb cannot store it, other stores
 * truncate at it) or a lone UTF-16 surrogate (no UTF-8 encoding: the stores would get U+FFFD);
 * an integral number beyond ±(2^53 − 1) (JSON numbers are doubles: 12345678901234567890 is
 * already 12345678901234567000 — such values must be written as strings); NaN and ±Infinity
 * (JSON has no such numbers); a key `__proto__`; values JSON does not have (bigint, undefined
 * inside arrays, functions, symbols, Dates and other class instances); with `secrets`, a string
 * holding a configured secret value (it would reach Temporal history).
 *
 * {@link unsafeIntegerLiterals} finds the integer literals of a JSON text that a parse would
 * round, with their paths, so that the CLI can name the digits as written.
 *
 * Pure: no I/O.
 */

/** Deepest nesting of objects and arrays in a definition (the definition itself is level 1). */
export const MAX_DEPTH = 64;

/** One refused value: its path from the definition's root and why. */
export interface HygieneIssue {
  path: (string | number)[];
  message: string;
}

const LARGEST = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stringProblem(s: string): string | undefined {
  if (s.includes('\u0000'))
    return 'contains a NUL character (\\u0000), which PostgreSQL cannot store; remove it (binary data: base64 in a string)';
  if (LONE_SURROGATE.test(s))
    return 'contains a lone UTF-16 surrogate, which has no UTF-8 encoding; send whole characters (binary data: base64 in a string)';
  return undefined;
}

/** Why a number cannot be sent as it is, or undefined. */
export function numberProblem(n: number): string | undefined {
  if (!Number.isFinite(n)) return `${String(n)} is not a JSON number`;
  if (Number.isInteger(n) && !Number.isSafeInteger(n))
    return `the integer ${String(n)} is beyond ±${LARGEST} (2^53 − 1) and cannot be kept exactly (it may already be rounded); write it as a string`;
  return undefined;
}

function kindOf(v: unknown): string {
  if (typeof v === 'object' && v !== null) {
    const ctor = (v as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor !== '' ? `a ${ctor}` : 'a non-plain object';
  }
  return `a ${typeof v}`;
}

/**
 * Every refused value of `input` (at most `limit`, default 20), walking iteratively (no
 * recursion: a definition nested 100 000 levels deep is one issue, not a stack overflow).
 */
export function checkValues(
  input: unknown,
  limit = 20,
  secrets?: { contains(text: string): boolean },
): HygieneIssue[] {
  const issues: HygieneIssue[] = [];
  const ancestors = new Set<object>();
  type Frame = { value: unknown; path: (string | number)[]; depth: number } | { leave: object };
  const stack: Frame[] = [{ value: input, path: [], depth: 1 }];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  while (stack.length > 0 && issues.length < limit) {
    const f = stack.pop()!;
    if ('leave' in f) {
      ancestors.delete(f.leave);
      continue;
    }
    const { value: v, path, depth } = f;
    if (typeof v === 'string') {
      const p = stringProblem(v);
      if (p) add(path, p);
      else if (secrets?.contains(v))
        add(
          path,
          'holds the value of a configured secret (polysaga adds X-INTERNAL-TOKEN and the connection credentials itself); a secret in a definition would be stored in Temporal history',
        );
      continue;
    }
    if (typeof v === 'number') {
      const p = numberProblem(v);
      if (p) add(path, p);
      continue;
    }
    if (v === null || typeof v === 'boolean' || v === undefined) continue;
    if (typeof v === 'bigint') {
      add(path, `a bigint (${v.toString()}) is not a JSON value; write it as a string`);
      continue;
    }
    if (typeof v !== 'object') {
      add(path, `${kindOf(v)} is not a JSON value`);
      continue;
    }
    if (ancestors.has(v)) {
      add(path, 'refers to itself (a cycle); a definition must be plain JSON');
      continue;
    }
    const isArray = Array.isArray(v);
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!isArray && proto !== Object.prototype && proto !== null) {
      add(path, `${kindOf(v)} is not a JSON value`);
      continue;
    }
    if (depth > MAX_DEPTH) {
      add(path, `nested deeper than ${MAX_DEPTH} levels of objects and arrays`);
      continue;
    }
    ancestors.add(v);
    stack.push({ leave: v });
    if (isArray) {
      for (let i = v.length - 1; i >= 0; i--) {
        if (v[i] === undefined) add([...path, i], 'undefined is not a JSON value');
        else stack.push({ value: v[i], path: [...path, i], depth: depth + 1 });
      }
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const kp = stringProblem(k);
        if (kp) add([...path, k], `the key ${kp}`);
        else if (k === '__proto__') add([...path, k], 'the key "__proto__" is refused');
        else stack.push({ value: (v as Record<string, unknown>)[k], path: [...path, k], depth: depth + 1 });
      }
    }
  }
  return issues;
}

/**
 * The integer literals of a JSON text (already known to parse) that a parse rounds: digits
 * without fraction or exponent beyond ±(2^53 − 1), with their paths and the digits as written.
 */
export function unsafeIntegerLiterals(text: string): { path: (string | number)[]; literal: string }[] {
  const out: { path: (string | number)[]; literal: string }[] = [];
  type Container = { kind: 'object'; key: string; expectKey: boolean } | { kind: 'array'; index: number };
  const stack: Container[] = [];
  const pathHere = () => stack.map((c) => (c.kind === 'object' ? c.key : c.index));
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        top.key = JSON.parse(text.slice(i, j + 1)) as string;
        top.expectKey = false;
      }
      i = j + 1;
    } else if (c === 0x7b /* { */) {
      stack.push({ kind: 'object', key: '', expectKey: true });
      i++;
    } else if (c === 0x5b /* [ */) {
      stack.push({ kind: 'array', index: 0 });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = true;
      else if (top) top.index++;
      i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(text[j]!)) j++;
      const literal = text.slice(i, j);
      if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal)))
        out.push({ path: pathHere(), literal });
      i = j;
    } else i++;
  }
  return out;
}

/**
 * The fields of `raw` that a schema dropped from `parsed` (zod objects strip unknown keys): a
 * misspelt `keyColums` would otherwise be ignored without a word. Walks both values in step;
 * returns the paths of the dropped fields.
 */
export function droppedFields(
  raw: unknown,
  parsed: unknown,
  path: (string | number)[] = [],
): (string | number)[][] {
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    return raw.flatMap((x, i) => (i < parsed.length ? droppedFields(x, parsed[i], [...path, i]) : []));
  }
  const plain = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!plain(raw) || !plain(parsed)) return [];
  const out: (string | number)[][] = [];
  for (const k of Object.keys(raw)) {
    if (!Object.prototype.hasOwnProperty.call(parsed, k)) {
      if (raw[k] !== undefined) out.push([...path, k]);
    } else out.push(...droppedFields(raw[k], parsed[k], [...path, k]));
  }
  return out;
}

/** Keys shown as they are in a field path (`payload.values.title`); others are shown `["a b"]`. */
const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/**
 * A path segment as it is shown in a field name: an index or a plain key as it is, any other
 * key JSON-quoted in brackets (`payload.values["id\"; DROP TABLE x; --"]`), so that a field name
 * is one unambiguous, printable line.
 */
export function showSegment(segment: string | number): { text: string; bracket: boolean } {
  if (typeof segment === 'number') return { text: `[${segment}]`, bracket: true };
  if (PLAIN_KEY.test(segment)) return { text: segment, bracket: false };
  return { text: `[${JSON.stringify(segment)}]`, bracket: true };
}
