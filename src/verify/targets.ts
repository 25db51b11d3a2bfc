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
 * A backend defined with a `snapshot` (defineBackend) names its own targets; anything else
 * (custom backends without one, other HTTP services) is listed as unchecked.
 */
import { httpTargets, type HttpTarget } from '../backends/http/snapshot.js';
import { kvTargets, type KvKeyTarget } from '../backends/kv/snapshot.js';
import { neo4jTargets, type Neo4jTarget, type NodeKey } from '../backends/neo4j/snapshot.js';
import { postgresTargets, type PgRowTarget } from '../backends/postgres/snapshot.js';
import { s3Targets, type S3ObjectTarget } from '../backends/s3/snapshot.js';
import { vectorTargets, type VectorTarget } from '../backends/vector/snapshot.js';
import type { BackendSnapshot } from '../backends/define.js';
import type { Catalog } from '../saga/catalog.js';
import type { Json } from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';

export type { NodeKey };

/** A target of a backend defined with a `snapshot` (defineBackend): read by its `snapshot.read`. */
export interface DefinedTarget {
  kind: 'defined';
  backend: string;
  target: Json;
}

/** What verify reads; each backend's targets are in `src/backends/<name>/snapshot.ts`. */
export type TargetSpec =
  PgRowTarget | Neo4jTarget | VectorTarget | S3ObjectTarget | KvKeyTarget | HttpTarget | DefinedTarget;

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

export interface TargetOptions {
  /** Default S3 bucket (S3_BUCKET). */
  defaultBucket: string;
  /** Snapshots of the other backends (defineBackend's `snapshot`), by backend name. */
  snapshots?: Readonly<Record<string, BackendSnapshot>>;
}

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

function specsFor(backend: string, operation: string, p: Obj, opts: TargetOptions): TargetSpec[] | string {
  switch (backend) {
    case 'postgres':
      return postgresTargets(operation, p);
    case 'neo4j':
      return neo4jTargets(operation, p);
    case 'vector':
      return vectorTargets(operation, p);
    case 's3':
      return s3Targets(p, opts.defaultBucket);
    case 'kv':
      return kvTargets(p);
    case 'http':
      return httpTargets(p);
    default: {
      const snapshot = opts.snapshots?.[backend];
      if (!snapshot) return `custom backend "${backend}" has no snapshot reader`;
      const targets = snapshot.targets(operation, p);
      return typeof targets === 'string'
        ? targets
        : targets.map((target): DefinedTarget => ({ kind: 'defined', backend, target }));
    }
  }
}

function describe(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'pg-row':
      return `postgres ${spec.table} ${stable(spec.key)}`;
    case 'neo4j-node':
      return `neo4j (:${spec.label} ${stable(spec.key)})`;
    case 'neo4j-rel':
      return `neo4j (:${spec.from.label} ${stable(spec.from.key)})-[:${spec.type}]->(:${spec.to.label} ${stable(spec.to.key)})`;
    case 'vector-points':
      return `vector ${spec.collection} ids ${stable(spec.ids)}`;
    case 'vector-filter':
      return `vector ${spec.collection} filter ${stable(spec.filter)}`;
    case 's3-object':
      return `s3 s3://${spec.bucket}/${spec.key}`;
    case 'kv-key':
      return `kv ${spec.key}`;
    case 'http-files':
      return `http ${spec.service} files of ${spec.projectId}`;
    case 'http-git':
      return `http ${spec.service} snapshots of ${spec.projectId}`;
    case 'defined':
      return `${spec.backend} ${stable(spec.target)}`;
  }
}

/**
 * The targets of a normalized definition. Payloads are parsed with the catalog's zod schema
 * first so that defaults (e.g. `keyColumns: ["id"]`) apply. Inline compensations without
 * `{{…}}` placeholders are targets too (an undo can leave something behind elsewhere).
 */
export function deriveTargets(def: NormalizedDefinition, catalog: Catalog, opts: TargetOptions): TargetPlan {
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
    const specs = specsFor(backend, operation, isObj(p) ? p : {}, opts);
    if (typeof specs === 'string') {
      unchecked.push(`${stepId}: ${specs}`);
      return;
    }
    for (const spec of specs) {
      const id = describe(spec);
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
