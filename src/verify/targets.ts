/**
 * What a saga will touch, per backend, derived from its (instantiated) definition: the things
 * `polysaga verify` snapshots before a run and compares after the compensation.
 *
 * | backend / operation | target |
 * | --- | --- |
 * | postgres insert, upsert | the row by `keyColumns` of `values` |
 * | postgres update, delete | the row by `key` |
 * | neo4j create_node | nodes with the first label and the `keyProperties` values |
 * | neo4j merge_node, set_properties, delete_node | nodes by `label` + `key` |
 * | neo4j create_relationship | relationships of `type` between the `from` and `to` nodes |
 * | vector upsert, delete by ids | the points by id in the collection |
 * | vector delete by filter | the points matching the filter |
 * | s3 put_object, delete_object, copy_object | the object at bucket (default S3_BUCKET) + key |
 * | kv set, delete | the key |
 * | http service `files` | every file of `body.project_id` (GET /files/…, GET /file/…) |
 * | http service `git` | the snapshot list of the project (GET /snapshot/…) |
 *
 * Each backend's targets come from the `snapshot` of its definition (`defineBackend`; the
 * built-ins' are in `src/backends/<name>/snapshot.ts`). A backend without one, and other HTTP
 * services, are listed as unchecked.
 */
import { builtinBackends } from '../backends/index.js';
import type { BackendSnapshot, SnapshotTarget, SnapshotTargetOptions } from '../backends/define.js';
import type { Catalog } from '../saga/catalog.js';
import type { NormalizedDefinition } from '../saga/definition.js';

export type { NodeKey } from '../backends/neo4j/snapshot.js';

/** What verify reads: a target of a backend's snapshot (`src/backends/<name>/snapshot.ts` for the built-ins). */
export type TargetSpec = SnapshotTarget;

export interface Target {
  /** Human-readable and unique: e.g. `postgres documents {"id":"doc-42-v0-ab12cd"}`. */
  id: string;
  backend: string;
  spec: TargetSpec;
  /** Steps (forward or inline compensation) that touch it. */
  stepIds: string[];
  /** Whether at least one touching step is compensatable (others are never undone). */
  compensatable: boolean;
  /** Touched by a forward step (false: only by an inline compensation). */
  forward: boolean;
}

export interface TargetPlan {
  targets: Target[];
  /** Steps whose effects cannot be snapshotted, with the reason. */
  unchecked: string[];
}

/** The snapshots of backends by name. */
export type BackendSnapshots = Readonly<Record<string, BackendSnapshot>>;

export interface TargetOptions extends SnapshotTargetOptions {
  /** The snapshot of each backend (default: the built-in backends'). */
  snapshots?: BackendSnapshots;
}

/** The snapshots of these backend definitions (those that have one), by backend name. */
export function snapshotsOf(
  definitions: readonly { name: string; snapshot?: BackendSnapshot | undefined }[],
): BackendSnapshots {
  const out: Record<string, BackendSnapshot> = {};
  for (const d of definitions) if (d.snapshot) out[d.name] = d.snapshot;
  return out;
}

/** The built-in backends' snapshots. */
export const builtinSnapshots: BackendSnapshots = snapshotsOf(builtinBackends);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    isObj(val)
      ? Object.fromEntries(
          Object.keys(val)
            .sort()
            .map((k) => [k, val[k]]),
        )
      : val,
  );
const hasPlaceholder = (v: unknown): boolean => stable(v).includes('{{');

/**
 * The targets of a normalized definition. Payloads are parsed with the catalog's zod schema
 * first so that defaults (e.g. `keyColumns: ["id"]`) apply. Inline compensations without
 * `{{…}}` placeholders are targets too (an undo can leave something behind elsewhere).
 */
export function deriveTargets(def: NormalizedDefinition, catalog: Catalog, opts: TargetOptions): TargetPlan {
  const snapshots = opts.snapshots ?? builtinSnapshots;
  const byId = new Map<string, Target>();
  const unchecked: string[] = [];
  const add = (
    stepId: string,
    backend: string,
    operation: string,
    payload: unknown,
    compensatable: boolean,
    forward: boolean,
  ) => {
    const schema = catalog.backends[backend]?.operations[operation]?.payload;
    const parsed = schema ? schema.safeParse(payload) : undefined;
    const p = (parsed?.success ? parsed.data : payload) as Obj;
    const snapshot = snapshots[backend];
    const specs = snapshot
      ? snapshot.targets(operation, isObj(p) ? p : {}, opts)
      : `backend "${backend}" has no snapshot to check it with (defineBackend's \`snapshot\`)`;
    if (typeof specs === 'string') {
      unchecked.push(`${stepId}: ${specs}`);
      return;
    }
    for (const spec of specs) {
      const id = snapshot?.describe ? snapshot.describe(spec) : `${backend} ${stable(spec)}`;
      const t = byId.get(id);
      if (t) {
        if (!t.stepIds.includes(stepId)) t.stepIds.push(stepId);
        t.compensatable ||= compensatable;
        t.forward ||= forward;
      } else byId.set(id, { id, backend, spec, stepIds: [stepId], compensatable, forward });
    }
  };
  for (const step of def.steps) {
    const compensatable = step.kind === 'compensatable' && step.compensation !== null;
    add(step.id, step.backend, step.operation, step.payload, compensatable, true);
    const c = step.compensation;
    if (c !== null && typeof c === 'object') {
      if (hasPlaceholder(c.payload))
        unchecked.push(
          `${step.id}: inline compensation uses {{…}} placeholders; its own effect is not snapshotted`,
        );
      else add(step.id, c.backend ?? step.backend, c.operation, c.payload, compensatable, false);
    }
  }
  return { targets: [...byId.values()], unchecked };
}

export { stable as stableJson };
