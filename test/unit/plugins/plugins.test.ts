/**
 * The plugin loader (src/plugins/load.ts) and the process-wide compensation registry
 * (src/plugins/registry.ts): what a loaded plugin adds to the catalog, and an error naming the
 * path and the problem for every module that is refused.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  catalogWithPlugins,
  getCompensation,
  loadPlugins,
  registerCompensation,
  registeredCompensations,
  unregisterCompensation,
} from '../../../src/plugins/index.js';
import type { CompensateStepInput } from '../../../src/saga/contracts.js';
import type { ConnectContext } from '../../../src/backends/define.js';
import { classifyError } from '../../../src/backends/errors.js';
import { assertValidDefinition } from '../../../src/saga/validate.js';
import { deriveTargets } from '../../../src/verify/targets.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const load = (name: string) => loadPlugins([name], { cwd: fixtures });
const undone = () => Promise.resolve({ outcome: 'undone' as const });

afterEach(() => {
  for (const c of registeredCompensations()) unregisterCompensation(c.name);
});

describe('registerCompensation / getCompensation', () => {
  it('registers a compensation process-wide: getCompensation returns it, the merged catalog lists it', () => {
    const handler = (input: CompensateStepInput, ctx: ConnectContext) =>
      Promise.resolve({
        outcome: 'undone' as const,
        detail: { step: input.stepId, has: ctx.config === undefined },
      });
    registerCompensation('unit_mark_deleted', handler, {
      backend: 'postgres',
      description: 'Marks a row deleted.',
    });
    expect(getCompensation('unit_mark_deleted')).toBe(handler);
    expect(getCompensation('nothing_here')).toBeUndefined();
    expect(catalogWithPlugins().compensations.unit_mark_deleted).toEqual({
      backend: 'postgres',
      description: 'Marks a row deleted.',
    });
    // The same handler again is a no-op; another one under the name is refused.
    registerCompensation('unit_mark_deleted', handler, {
      backend: 'postgres',
      description: 'Marks a row deleted.',
    });
    expect(() =>
      registerCompensation('unit_mark_deleted', undone, { backend: 'postgres', description: 'x' }),
    ).toThrow(
      'registerCompensation("unit_mark_deleted"): already registered for backend "postgres" with another handler',
    );
    expect(unregisterCompensation('unit_mark_deleted')).toBe(true);
    expect(getCompensation('unit_mark_deleted')).toBeUndefined();
    expect(catalogWithPlugins().compensations.unit_mark_deleted).toBeUndefined();
  });

  it('refuses a bad name, backend or description, and the name of a built-in compensation', () => {
    const opts = { backend: 'postgres', description: 'd' };
    expect(() => registerCompensation('1bad', undone, opts)).toThrow(/name "1bad" must match/);
    expect(() => registerCompensation('ok_name', undone, { backend: 'Post-gres', description: 'd' })).toThrow(
      /registerCompensation\("ok_name"\): backend "Post-gres" must be a backend name/,
    );
    expect(() => registerCompensation('ok_name', undone, { backend: 'postgres', description: ' ' })).toThrow(
      /description must be a non-empty string/,
    );
    expect(() => registerCompensation('relational_delete', undone, opts)).toThrow(
      'registerCompensation("relational_delete"): clashes with the built-in compensation of backend "postgres"',
    );
    expect(registeredCompensations()).toEqual([]);
  });

  it('a compensation for a backend the catalog lacks makes the merged catalog name it', () => {
    registerCompensation('unit_orphan', undone, { backend: 'nosuch', description: 'd' });
    expect(() => catalogWithPlugins()).toThrow(
      /compensation "unit_orphan" is registered for backend "nosuch", which is not in the catalog/,
    );
  });
});

describe('loadPlugins', () => {
  it('loads a plugin: its backends, its compensations and those it registered at import join the catalog', async () => {
    const [plugin, ...rest] = await load('good.ts');
    expect(rest).toEqual([]);
    expect(plugin!.name).toBe('unit-good');
    expect(plugin!.file).toBe(`${fixtures}good.ts`);
    expect(plugin!.backends.map((b) => b.name)).toEqual(['unit_notes']);
    expect(plugin!.compensations.sort()).toEqual(['unit_notes_archive', 'unit_pg_mark']);
    const catalog = catalogWithPlugins([plugin!]);
    expect(Object.keys(catalog.backends)).toContain('unit_notes');
    expect(catalog.compensations.unit_notes_delete).toEqual({
      backend: 'unit_notes',
      description: 'Deletes the note.',
    });
    expect(catalog.compensations.unit_notes_archive).toEqual({
      backend: 'unit_notes',
      description: 'Archives the note.',
    });
    expect(catalog.compensations.unit_pg_mark).toEqual({ backend: 'postgres', description: 'Marks a row.' });
    expect(getCompensation('unit_notes_archive')).toBeTypeOf('function');
    // The same path twice is loaded once; a second load (module cached) reports the same compensations.
    const again = await loadPlugins(['good.ts', './good.ts'], { cwd: fixtures });
    expect(again).toHaveLength(1);
    expect(again[0]!.compensations.sort()).toEqual(['unit_notes_archive', 'unit_pg_mark']);
  });

  it.each([
    ['missing.ts', `plugin missing.ts: file not found (${fixtures}missing.ts)`],
    ['throws.ts', 'plugin throws.ts: cannot import: boom at import'],
    ['no-export.ts', 'plugin no-export.ts: no plugin export (expected `export default definePlugin({ … })`'],
    ['bad-name.ts', 'plugin bad-name.ts: backend name "Bad-Name" must match /^[a-z][a-z0-9_]*$/'],
    [
      'builtin-backend.ts',
      'plugin builtin-backend.ts: backend "postgres" clashes with the built-in backend of that name',
    ],
    [
      'builtin-compensation.ts',
      'plugin builtin-compensation.ts: compensation "relational_delete" of backend "unit_clash" clashes with the built-in compensation of backend "postgres"',
    ],
    [
      'unknown-backend.ts',
      'plugin unknown-backend.ts: compensation "unit_orphan_undo" is for backend "nosuch", which is neither built in',
    ],
  ])('refuses %s, naming the path and the problem', async (file, message) => {
    const error = await load(file).then(
      () => undefined,
      (err: unknown) => err as Error & { path: string },
    );
    expect(error?.name).toBe('PluginError');
    expect(error?.message).toContain(message);
    expect(error?.path).toBe(file);
    // A refused load leaves the registry as it was (unknown-backend.ts registered one at import).
    expect(registeredCompensations()).toEqual([]);
  });

  it('refuses a backend two plugins define, naming the first', async () => {
    await expect(loadPlugins(['good.ts', 'same-backend.ts'], { cwd: fixtures })).rejects.toThrow(
      'plugin same-backend.ts: backend "unit_notes" is already defined by plugin good.ts',
    );
  });
});

describe('a plugin backend in polysaga verify', () => {
  it('names its targets through its snapshot; without one its steps are unchecked', async () => {
    const [plugin] = await load('good.ts');
    const catalog = catalogWithPlugins([plugin!]);
    const def = assertValidDefinition(
      {
        name: 'notes',
        sagaId: 's1',
        steps: [{ id: 'note', backend: 'unit_notes', operation: 'put', payload: { id: 'n1' } }],
      },
      catalog,
    );
    const snapshots = {
      unit_notes: {
        targets: (operation: string, p: Record<string, unknown>) => [
          { kind: 'note', operation, id: String(p.id) },
        ],
        connect: () => ({ read: () => Promise.resolve(null) }),
      },
    };
    const plan = deriveTargets(def, catalog, { defaultBucket: 'polysaga', snapshots });
    expect(plan.targets.map((t) => [t.id, t.backend, t.stepIds, t.spec])).toEqual([
      [
        'unit_notes {"id":"n1","kind":"note","operation":"put"}',
        'unit_notes',
        ['note'],
        { kind: 'note', operation: 'put', id: 'n1' },
      ],
    ]);
    expect(plan.unchecked).toEqual([]);
    expect(deriveTargets(def, catalog, { defaultBucket: 'polysaga', snapshots: {} }).unchecked).toEqual([
      'note: backend "unit_notes" has no snapshot to check it with (defineBackend\'s `snapshot`)',
    ]);
  });
});

describe('errors a plugin throws', () => {
  it('a PermanentError or ConflictError of another copy of polysaga stays permanent, with its type', () => {
    // What a plugin importing polysaga's source throws while the CLI runs dist/ (another class).
    class PermanentError extends Error {
      override name = 'PermanentError';
      readonly type = 'polysaga.ConstraintViolation';
    }
    class ConflictError extends Error {
      override name = 'ConflictError';
      readonly type = 'polysaga.Conflict';
    }
    expect(classifyError(new PermanentError('dup'))).toEqual({
      kind: 'permanent',
      type: 'polysaga.ConstraintViolation',
    });
    expect(classifyError(new ConflictError('changed'))).toEqual({
      kind: 'permanent',
      type: 'polysaga.Conflict',
    });
    // A name alone is not enough: an unknown error stays transient.
    expect(classifyError(Object.assign(new Error('x'), { name: 'PermanentError' }))).toEqual({
      kind: 'transient',
    });
  });
});
