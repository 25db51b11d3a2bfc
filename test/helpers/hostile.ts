/**
 * fast-check generators of hostile saga definitions, shared by the unit property test
 * (test/unit/saga/hostile-input.test.ts) and the property test against the stack
 * (test/integration/security/hostile-input.test.ts).
 *
 * A generated case is a valid base definition (postgres, kv, neo4j, vector and s3 steps) with
 * one mutation: wrong types, huge strings, deep nesting, NUL bytes, lone surrogates, injection
 * attempts in table, column, label, property, key and collection names, numbers beyond 2^53,
 * NaN/Infinity, unknown fields. `mustRefuse` says whether validation has to refuse it; `path` is
 * where the mutation is, which a refusal must name.
 */
import fc from 'fast-check';

export type Path = (string | number)[];
export type Backends = readonly ('postgres' | 'kv' | 'neo4j' | 'vector' | 's3')[];

export interface HostileCase {
  kind: string;
  definition: Record<string, unknown>;
  path: Path;
  mustRefuse: boolean;
}

/** Limits small enough that a "huge" string stays cheap to generate. */
export const HOSTILE_LIMITS = { maxDefinitionBytes: 256 * 1024, maxStepPayloadBytes: 32 * 1024 };

function step(backend: Backends[number], i: number, token: string, table: string): Record<string, unknown> {
  switch (backend) {
    case 'postgres':
      return {
        id: `row${i}`,
        backend,
        operation: 'insert',
        payload: { table, values: { id: `${token}-${i}`, title: 'hello', n: 1 } },
      };
    case 'kv':
      return {
        id: `kv${i}`,
        backend,
        operation: 'set',
        payload: { key: `hostile:${token}:${i}`, value: 'v' },
      };
    case 'neo4j':
      return {
        id: `node${i}`,
        backend,
        operation: 'create_node',
        payload: { labels: ['HostileNode'], properties: { id: `${token}-${i}`, n: 1 } },
      };
    case 'vector':
      return {
        id: `vec${i}`,
        backend,
        operation: 'upsert',
        payload: {
          collection: 'hostile_points',
          points: [{ id: `${token}-${i}`, vector: [0.1, 0.2, 0.3, 0.4], metadata: { k: 'v' } }],
        },
      };
    case 's3':
      return {
        id: `obj${i}`,
        backend,
        operation: 'put_object',
        payload: { key: `hostile/${token}/${i}.txt`, body: 'hi' },
      };
  }
}

/** A valid definition: a postgres step, then 0-3 steps of the given backends. */
export function baseDefinition(
  backends: Backends,
  token: string,
  table = 'hostile_rows',
): fc.Arbitrary<Record<string, unknown>> {
  return fc.array(fc.constantFrom(...backends), { minLength: 0, maxLength: 3 }).map((rest) => ({
    name: 'hostile',
    sagaId: `hostile-${token}`,
    steps: (['postgres', ...rest] as const).map((b, i) => step(b, i, token, table)),
  }));
}

/** Every leaf (string, number, boolean, null) of a JSON value with its path. */
function leaves(v: unknown, path: Path = []): { path: Path; value: unknown }[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [{ path, value: v }];
}

/** Every plain object of a JSON value with its path. */
function objects(v: unknown, path: Path = []): { path: Path; value: Record<string, unknown> }[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => objects(x, [...path, i]));
  if (v !== null && typeof v === 'object')
    return [
      { path, value: v as Record<string, unknown> },
      ...Object.entries(v).flatMap(([k, x]) => objects(x, [...path, k])),
    ];
  return [];
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function setAt(root: unknown, path: Path, value: unknown): void {
  let o = root as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) o = o[p] as Record<string | number, unknown>;
  o[path[path.length - 1]!] = value;
}

function getAt(root: unknown, path: Path): unknown {
  let o = root as Record<string | number, unknown>;
  for (const p of path) o = o[p] as Record<string | number, unknown>;
  return o;
}

const isPayloadPath = (p: Path) => p[0] === 'steps' && p[2] === 'payload';

/** Strings that try to break out of an identifier or a query. */
export const injection = fc.oneof(
  fc.constantFrom(
    `x"; DROP TABLE uds3_saga_events; --`,
    `x'); DELETE FROM uds3_saga_events; --`,
    'x` ) DETACH DELETE n //',
    'a b',
    'a.b.c',
    '1abc',
    '$1',
    'x\u0000y',
    '../../etc/passwd',
    'Ünïcode',
    'x}) MATCH (n) DETACH DELETE n //',
    '*',
    '',
    'a'.repeat(64),
  ),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(s)),
);

/** Names that the catalogs restrict to identifiers (or collection names): an injection is refused. */
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const COLLECTION = /^[A-Za-z0-9][A-Za-z0-9_-]{1,62}$/;
function identifierSlots(def: Record<string, unknown>): { path: Path; asKey: boolean; valid?: RegExp }[] {
  const out: { path: Path; asKey: boolean; valid?: RegExp }[] = [];
  (def.steps as Record<string, unknown>[]).forEach((s, i) => {
    const p = s.payload as Record<string, unknown>;
    if (s.backend === 'postgres') {
      out.push({ path: ['steps', i, 'payload', 'table'], asKey: false, valid: TABLE });
      out.push({ path: ['steps', i, 'payload', 'values', 'title'], asKey: true });
    }
    if (s.backend === 'neo4j') {
      out.push({ path: ['steps', i, 'payload', 'labels', 0], asKey: false });
      out.push({ path: ['steps', i, 'payload', 'properties', 'n'], asKey: true });
    }
    if (s.backend === 'vector')
      out.push({ path: ['steps', i, 'payload', 'collection'], asKey: false, valid: COLLECTION });
    void p;
  });
  return out;
}

/** Renames the key at the end of `path` (keeping its value and place). */
function renameKey(root: unknown, path: Path, name: string): Path {
  const parent = getAt(root, path.slice(0, -1)) as Record<string, unknown>;
  const old = path[path.length - 1] as string;
  const entries = Object.entries(parent).map(([k, v]): [string, unknown] => [k === old ? name : k, v]);
  for (const k of Object.keys(parent)) delete parent[k];
  for (const [k, v] of entries)
    Object.defineProperty(parent, k, { value: v, enumerable: true, writable: true, configurable: true });
  return [...path.slice(0, -1), name];
}

/** One hostile mutation of a definition from `base`. */
export function hostileCase(base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<HostileCase> {
  return base.chain((def) => {
    const strLeaves = leaves(def).filter((l) => typeof l.value === 'string' && l.path[0] === 'steps');
    const allLeaves = leaves(def);
    const payloadObjects = objects(def).filter(
      (o) => isPayloadPath(o.path) && o.path.length === 3, // the payload objects themselves
    );
    const recordSlots = objects(def).filter(
      (o) =>
        isPayloadPath(o.path) &&
        ['values', 'properties', 'metadata'].includes(String(o.path[o.path.length - 1])),
    );
    const pick = <T>(xs: T[]) => fc.integer({ min: 0, max: xs.length - 1 }).map((i) => xs[i]!);
    const cases: fc.Arbitrary<HostileCase>[] = [
      // NUL or a lone surrogate inserted into a string (also into a key: see 'key-nul').
      fc
        .tuple(pick(strLeaves), fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uDBFF'), fc.nat())
        .map(([leaf, bad, at]) => {
          const d = clone(def);
          const s = leaf.value as string;
          const k = at % (s.length + 1);
          setAt(d, leaf.path, s.slice(0, k) + bad + s.slice(k));
          return {
            kind: bad === '\u0000' ? 'nul' : 'surrogate',
            definition: d,
            path: leaf.path,
            mustRefuse: true,
          };
        }),
      fc.tuple(pick(recordSlots), fc.constantFrom('\u0000', '\uD800')).map(([slot, bad]) => {
        const d = clone(def);
        const key = Object.keys(slot.value)[0]!;
        const path = renameKey(d, [...slot.path, key], `k${bad}x`);
        return { kind: 'key-nul', definition: d, path, mustRefuse: true };
      }),
      // Numbers that JSON cannot carry exactly.
      fc
        .tuple(
          pick(recordSlots),
          fc.oneof(
            fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map((b) => Number(b)),
            fc.bigInt({ min: -(2n ** 70n), max: -(2n ** 53n) }).map((b) => Number(b)),
            fc.constantFrom(Number('12345678901234567890'), Number.NaN, Infinity, -Infinity, 2 ** 53),
          ),
        )
        .map(([slot, n]) => {
          const d = clone(def);
          const path = [...slot.path, 'big'];
          setAt(d, path, n);
          return { kind: 'unsafe-number', definition: d, path, mustRefuse: true };
        }),
      // Nesting beyond the limit (inside a JSON value, where any depth would otherwise pass).
      fc
        .tuple(pick(recordSlots), fc.integer({ min: 64, max: 2000 }), fc.boolean())
        .map(([slot, depth, arrays]) => {
          const d = clone(def);
          let v: unknown = 'bottom';
          for (let i = 0; i < depth; i++) v = arrays ? [v] : { x: v };
          const path = [...slot.path, 'deep'];
          setAt(d, path, v);
          return { kind: 'deep', definition: d, path, mustRefuse: true };
        }),
      // A string over the per-step payload limit.
      fc.tuple(pick(strLeaves), fc.integer({ min: 40_000, max: 300_000 })).map(([leaf, n]) => {
        const d = clone(def);
        setAt(d, leaf.path, 'x'.repeat(n));
        return { kind: 'huge', definition: d, path: leaf.path.slice(0, 3), mustRefuse: true };
      }),
      // Injection attempts in identifiers (refused) ...
      fc
        .tuple(
          pick(
            identifierSlots(def).length ? identifierSlots(def) : [{ path: ['name'] as Path, asKey: false }],
          ),
          injection,
        )
        .map(([slot, name]) => {
          const d = clone(def);
          const path = slot.asKey ? renameKey(d, slot.path, name) : slot.path;
          if (!slot.asKey) setAt(d, path, name);
          return { kind: 'injection', definition: d, path, mustRefuse: !(slot.valid ?? IDENT).test(name) };
        }),
      // ... and in free-form names (kv keys, s3 keys, values): refused or run as plain data.
      fc
        .tuple(
          pick(
            strLeaves.filter((l) => /^(key|value|body|id|title)$/.test(String(l.path[l.path.length - 1]))),
          ),
          injection,
        )
        .map(([leaf, name]) => {
          const d = clone(def);
          setAt(d, leaf.path, name);
          return { kind: 'injection-data', definition: d, path: leaf.path, mustRefuse: false };
        }),
      // Wrong types anywhere.
      fc
        .tuple(
          pick(allLeaves),
          fc.oneof(
            fc.integer(),
            fc.boolean(),
            fc.constant(null),
            fc.constant([]),
            fc.constant({}),
            fc.array(fc.integer(), { maxLength: 3 }),
            fc.string({ maxLength: 5 }),
          ),
        )
        .filter(([leaf, v]) => typeof leaf.value !== typeof v || Array.isArray(v) || v === null)
        .map(([leaf, v]) => {
          const d = clone(def);
          setAt(d, leaf.path, v);
          return { kind: 'wrong-type', definition: d, path: leaf.path, mustRefuse: false };
        }),
      // Unknown fields: on the definition, a step, a payload.
      fc
        .tuple(
          fc.constantFrom<Path>([], ['steps', 0], ...payloadObjects.map((o) => o.path)),
          fc.constantFrom('extra', 'keyColums', 'tabel', 'sagaID', 'compensations', 'zz'),
          fc.jsonValue({ maxDepth: 2 }),
        )
        .map(([at, key, v]) => {
          const d = clone(def);
          const path = [...at, key];
          setAt(d, path, v);
          return { kind: 'unknown-field', definition: d, path, mustRefuse: true };
        }),
    ];
    return fc.oneof(...cases);
  });
}

/** The path an issue names, as one string (`steps[0].payload.values.n`). */
export function issuePath(issue: { stepIndex?: number; field: string }): string {
  if (issue.stepIndex === undefined) return issue.field;
  return issue.field === '(root)' ? `steps[${issue.stepIndex}]` : `steps[${issue.stepIndex}].${issue.field}`;
}

/** `path` written as validation writes fields. */
export function pathText(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Whether field `a` is `b`, inside it, or contains it. */
export function related(a: string, b: string): boolean {
  const inside = (x: string, y: string) => x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return inside(a, b) || inside(b, a);
}
