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
 * Anything else (custom backends, other HTTP services) is listed as unchecked.
 */
import type { Catalog } from '../saga/catalog.js';
import type { JsonObject } from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';

export interface NodeKey {
  label: string;
  key: JsonObject;
}

export type TargetSpec =
  | { kind: 'pg-row'; table: string; key: JsonObject }
  | { kind: 'neo4j-node'; label: string; key: JsonObject }
  | { kind: 'neo4j-rel'; from: NodeKey; to: NodeKey; type: string }
  | { kind: 'vector-points'; collection: string; ids: string[] }
  | { kind: 'vector-filter'; collection: string; filter: JsonObject }
  | { kind: 's3-object'; bucket: string; key: string }
  | { kind: 'kv-key'; key: string }
  | { kind: 'http-files'; service: string; projectId: string; userId: string }
  | { kind: 'http-git'; service: string; projectId: string; userId: string };

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
    case 'postgres': {
      const table = String(p.table);
      if (operation === 'insert' || operation === 'upsert') {
        const values = p.values as JsonObject;
        const cols = (p.keyColumns as string[] | undefined) ?? ['id'];
        return [{ kind: 'pg-row', table, key: Object.fromEntries(cols.map((c) => [c, values[c] ?? null])) }];
      }
      return [{ kind: 'pg-row', table, key: p.key as JsonObject }];
    }
    case 'neo4j': {
      if (operation === 'create_node') {
        const props = p.properties as JsonObject;
        const keys = (p.keyProperties as string[] | undefined) ?? ['id'];
        const labels = p.labels as string[];
        return [
          {
            kind: 'neo4j-node',
            label: labels[0]!,
            key: Object.fromEntries(keys.map((k) => [k, props[k] ?? null])),
          },
        ];
      }
      if (operation === 'create_relationship') {
        return [{ kind: 'neo4j-rel', from: p.from as NodeKey, to: p.to as NodeKey, type: String(p.type) }];
      }
      return [{ kind: 'neo4j-node', label: String(p.label), key: p.key as JsonObject }];
    }
    case 'vector': {
      const collection = String(p.collection);
      if (operation === 'upsert') {
        return [{ kind: 'vector-points', collection, ids: (p.points as { id: string }[]).map((x) => x.id) }];
      }
      if (Array.isArray(p.ids)) return [{ kind: 'vector-points', collection, ids: p.ids as string[] }];
      return [{ kind: 'vector-filter', collection, filter: p.filter as JsonObject }];
    }
    case 's3':
      return [
        {
          kind: 's3-object',
          bucket: typeof p.bucket === 'string' ? p.bucket : opts.defaultBucket,
          key: String(p.key),
        },
      ];
    case 'kv':
      return [{ kind: 'kv-key', key: String(p.key) }];
    case 'http': {
      const service = String(p.service);
      const userId = typeof p.userId === 'string' ? p.userId : 'polysaga-verify';
      const body = isObj(p.body) ? p.body : {};
      let projectId = typeof body.project_id === 'string' ? body.project_id : undefined;
      if (service === 'git' && projectId === undefined) {
        projectId = /^\/snapshot\/([^/]+)/.exec(String(p.path))?.[1];
        if (projectId !== undefined) projectId = decodeURIComponent(projectId);
      }
      if (service === 'files' || service === 'git') {
        if (projectId === undefined) return `http service "${service}": no project_id in the body or path`;
        return [{ kind: service === 'files' ? 'http-files' : 'http-git', service, projectId, userId }];
      }
      return `http service "${service}" has no snapshot reader (only "files" and "git" are known)`;
    }
    default:
      return `custom backend "${backend}" has no snapshot reader`;
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
