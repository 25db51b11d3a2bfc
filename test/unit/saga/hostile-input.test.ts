/**
 * Hostile input refused (property-based, fast-check): thousands of generated malformed
 * definitions — wrong types, huge strings, deep nesting, NUL bytes, lone surrogates, injection
 * attempts in names, numbers beyond 2^53, NaN/Infinity, unknown fields — are each either refused
 * by validateDefinition with issues on one line naming the mutated field, or valid. Arbitrary
 * values never make validation throw. The CLI's reader names unsafe integer literals as written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { formatIssue, InvalidDefinitionError } from '../../../src/saga/errors.js';
import { checkValues, MAX_DEPTH, unsafeIntegerLiterals } from '../../../src/saga/input-hygiene.js';
import { validateDefinition } from '../../../src/saga/validate.js';
import {
  baseDefinition,
  HOSTILE_LIMITS,
  hostileCase,
  issuePath,
  pathText,
  related,
  type HostileCase,
} from '../../helpers/hostile.js';

const validate = (d: unknown) => validateDefinition(d, builtinCatalog, { limits: HOSTILE_LIMITS });
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Checks one case; returns the verdict for statistics. */
function check(c: HostileCase): 'refused' | 'valid' {
  const r = validate(c.definition);
  if (r.ok) {
    expect(c.mustRefuse, `${c.kind} at ${pathText(c.path)} was accepted`).toBe(false);
    return 'valid';
  }
  const lines = r.issues.map(formatIssue);
  for (const line of lines) {
    expect(line).not.toMatch(/[\n\r]|\0/);
    expect(LONE.test(line)).toBe(false);
  }
  const target = pathText(c.path);
  const last = String(c.path[c.path.length - 1]);
  const names = r.issues.some(
    (i) =>
      related(issuePath(i), target) ||
      (i.field === '(root)' && i.message.includes(last)) ||
      (c.kind === 'huge' && i.field === '(root)' && i.stepIndex === undefined),
  );
  expect(names, `${c.kind} at ${target}: ${lines.join(' | ')}`).toBe(true);
  return 'refused';
}

describe('hostile definitions (property-based)', () => {
  it('each of 2000 mutated definitions is refused naming the field, or valid', () => {
    const verdicts: Record<string, Record<string, number>> = {};
    fc.assert(
      fc.property(hostileCase(baseDefinition(['postgres', 'kv', 'neo4j', 'vector', 's3'], 'u1')), (c) => {
        const v = check(c);
        verdicts[c.kind] ??= {};
        verdicts[c.kind]![v] = (verdicts[c.kind]![v] ?? 0) + 1;
      }),
      { numRuns: 2000, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    // Every kind of mutation was generated, and the ones that must be refused never passed.
    for (const kind of [
      'nul',
      'surrogate',
      'key-nul',
      'unsafe-number',
      'deep',
      'huge',
      'injection',
      'unknown-field',
    ])
      expect(verdicts[kind]?.refused ?? 0, kind).toBeGreaterThan(0);
  });

  it('arbitrary values (any JSON-ish shape, any strings) never make validation throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything({
            withBigInt: true,
            withNullPrototype: true,
            withObjectString: true,
            withMap: true,
            withDate: true,
          }),
          fc.record({ name: fc.string(), steps: fc.array(fc.anything(), { maxLength: 3 }) }),
          fc.record({
            name: fc.constant('x'),
            steps: fc.array(
              fc.record({
                id: fc.string({ unit: 'binary' }),
                backend: fc.constantFrom('postgres', 'kv', 'neo4j', 'vector', 's3', 'http', 'nope'),
                operation: fc.string(),
                payload: fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()),
              }),
              { minLength: 1, maxLength: 3 },
            ),
          }),
        ),
        (v) => {
          const r = validate(v);
          if (!r.ok) for (const line of r.issues.map(formatIssue)) expect(line).not.toMatch(/[\n\r]|\0/);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a cycle and extreme nesting are refused without a stack overflow', () => {
    const cyclic: Record<string, unknown> = { name: 'x', steps: [] };
    (cyclic.steps as unknown[]).push(cyclic);
    expect(validate(cyclic)).toMatchObject({ ok: false, issues: [{ stepIndex: 0, field: '(root)' }] });
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const r = validate({ name: 'x', steps: deep });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.message).toContain(`deeper than ${MAX_DEPTH}`);
  });
});

describe('integers beyond 2^53', () => {
  it('the client API refuses every integral number that is not a safe integer, naming the field', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 1000n }), fc.boolean(), (b, negative) => {
        const n = Number(negative ? -b : b);
        const issues = checkValues({ a: { b: [n] } });
        expect(issues).toHaveLength(1);
        expect(issues[0]!.path).toEqual(['a', 'b', 0]);
        expect(issues[0]!.message).toContain('write it as a string');
      }),
    );
    expect(
      checkValues({ a: Number.MAX_SAFE_INTEGER, b: -Number.MAX_SAFE_INTEGER, c: 1.5, d: 1e-300 }),
    ).toEqual([]);
  });

  it('the raw-text scanner finds every unsafe integer literal with its path, and only those', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }).filter((v) => checkValues(v).length === 0),
        fc.bigInt({ min: 2n ** 53n, max: 10n ** 30n }),
        fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }),
        (v, big, keys) => {
          const path = keys.map((k, i) => (typeof k === 'number' ? Math.abs(k) % 3 : `${k}${i}`));
          let wrapped: unknown = '__BIG__';
          for (const p of [...path].reverse())
            wrapped =
              typeof p === 'number'
                ? [...Array.from({ length: p }, () => 0), wrapped]
                : { [p]: wrapped, other: v };
          const text = JSON.stringify({ root: wrapped, v }).replace('"__BIG__"', big.toString());
          const found = unsafeIntegerLiterals(text);
          expect(found).toEqual([{ path: ['root', ...path], literal: big.toString() }]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('InvalidDefinitionError keeps one line per issue', () => {
    const e = new InvalidDefinitionError([{ field: 'name', message: 'a\nb' }]);
    expect(e.message).not.toContain('\n');
  });
});
