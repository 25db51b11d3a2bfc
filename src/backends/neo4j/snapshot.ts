/**
 * What `polysaga verify` reads of the neo4j store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import type { Driver } from 'neo4j-driver';
import type { BackendSnapshot } from '../define.js';
import { canonicalJson } from '../json.js';
import type { Json, JsonObject } from '../../saga/contracts.js';
import { sortStable } from '../json.js';

/** A node: a label plus property → value. */
export interface NodeKey {
  label: string;
  key: JsonObject;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`unsafe identifier ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/** Neo4j values → JSON (temporal and spatial values as strings, big integers as strings). */
function neoJson(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(neoJson);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, neoJson(x)]),
      );
    }
    // Temporal (Date, Duration, …) and spatial values have a meaningful toString().
    return (v as { toString(): string }).toString();
  }
  return null;
}

function nodeMatch(alias: string, n: NodeKey, params: Record<string, unknown>, prefix: string): string {
  const props = Object.keys(n.key).map((k, i) => {
    params[`${prefix}${i}`] = n.key[k];
    return `${ident(k)}: $${prefix}${i}`;
  });
  return `(${alias}:${ident(n.label)} {${props.join(', ')}})`;
}

/** The nodes matching `node` (labels and properties). */
export async function readNodes(driver: Driver, node: NodeKey): Promise<Json> {
  const params: Record<string, unknown> = {};
  const q = `MATCH ${nodeMatch('n', node, params, 'k')} RETURN labels(n) AS labels, properties(n) AS props`;
  const r = await driver.executeQuery(q, params);
  const nodes = sortStable(
    r.records.map((rec) => ({ labels: neoJson(rec.get('labels')), props: neoJson(rec.get('props')) })),
  );
  return nodes.length === 0 ? null : nodes;
}

/** The properties of the `type` relationships from `from` to `to`. */
export async function readRelationships(
  driver: Driver,
  from: NodeKey,
  type: string,
  to: NodeKey,
): Promise<Json> {
  const params: Record<string, unknown> = {};
  const q = `MATCH ${nodeMatch('a', from, params, 'f')}-[r:${ident(type)}]->${nodeMatch('b', to, params, 't')} RETURN properties(r) AS props`;
  const r = await driver.executeQuery(q, params);
  const rels = sortStable(r.records.map((rec) => neoJson(rec.get('props'))));
  return rels.length === 0 ? null : rels;
}

/** Nodes or relationships verify reads. */
export type Neo4jTarget =
  | { kind: 'neo4j-node'; label: string; key: JsonObject }
  | { kind: 'neo4j-rel'; from: NodeKey; to: NodeKey; type: string };

/** The nodes or relationships a neo4j step touches (payload parsed, defaults applied). */
export function neo4jTargets(operation: string, p: Record<string, unknown>): Neo4jTarget[] {
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

const nodeText = (n: NodeKey): string => `(:${n.label} ${canonicalJson(n.key)})`;

/** What `polysaga verify` checks of the neo4j store: the nodes and relationships a step touches. */
export const neo4jSnapshot: BackendSnapshot<Neo4jTarget> = {
  targets: (operation, p) => neo4jTargets(operation, p),
  describe: (t) =>
    t.kind === 'neo4j-node'
      ? `neo4j ${nodeText(t)}`
      : `neo4j ${nodeText(t.from)}-[:${t.type}]->${nodeText(t.to)}`,
  connect: ({ adapters }) => ({
    read: (t) =>
      t.kind === 'neo4j-node'
        ? readNodes(adapters.neo4j.driver, t)
        : readRelationships(adapters.neo4j.driver, t.from, t.type, t.to),
  }),
};
