/**
 * Neo4j adapter (neo4j-driver): node and relationship writes with before-images.
 *
 * Labels, relationship types and property keys are validated and backtick-quoted; values are
 * always parameters. Idempotency: every operation runs in one write transaction together with a
 * `(:PolysagaIdempotency {key})` node holding its result (unique constraint on `key`), so a retry
 * with the same key returns the stored result and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import neo4j, { type Driver, type ManagedTransaction } from 'neo4j-driver';
import type { Config } from '../../config/index.js';
import type { JsonObject } from '../../saga/contracts.js';
import { FailureTypes } from '../../saga/contracts.js';
import { ConflictError, PermanentError } from '../errors.js';
import { jsonEqual, toJson } from '../json.js';

/** Creates a driver (plain JS numbers for integers; auth none when no password is set). */
export function createNeo4jDriver(cfg: Config['neo4j']): Driver {
  const auth = cfg.password ? neo4j.auth.basic(cfg.user, cfg.password) : undefined;
  return neo4j.driver(cfg.url, auth, {
    disableLosslessIntegers: true,
    maxTransactionRetryTime: 5_000,
    connectionAcquisitionTimeout: 10_000,
  });
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Backtick-quotes a label, type or property key after checking it against the safe pattern. */
export function cypherIdent(name: string): string {
  if (!IDENT.test(name))
    throw new PermanentError(`unsafe label or key: ${JSON.stringify(name)}`, FailureTypes.InvalidPayload);
  return `\`${name}\``;
}

/** `{`a`: $p.a, `b`: $p.b}` for a key map passed as parameter `p`. */
function keyPattern(key: JsonObject, param: string): string {
  return `{${Object.keys(key)
    .map((k) => `${cypherIdent(k)}: $${param}.${cypherIdent(k)}`)
    .join(', ')}}`;
}

export interface NodeRef {
  label: string;
  key: JsonObject;
}

interface RelImage extends JsonObject {
  type: string;
  properties: JsonObject;
  outgoing: boolean;
  otherId: string;
}

/** Result of a node operation: enough to undo it without the payload. */
export interface NodeChange extends JsonObject {
  label: string;
  /** Key of the node (label + these properties identify it). */
  key: JsonObject;
  labels: string[];
  before: JsonObject | null;
  after: JsonObject | null;
  /** delete_node only: the relationships the node had. */
  relationships: RelImage[];
}

export interface RelationshipChange extends JsonObject {
  elementId: string;
  type: string;
  from: { label: string; key: JsonObject };
  to: { label: string; key: JsonObject };
  properties: JsonObject;
}

const IDEM_LABEL = 'PolysagaIdempotency';

function pick(props: JsonObject, keys: string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) {
    const v = props[k];
    if (v === undefined || v === null) {
      throw new PermanentError(`key property ${k} missing from the node`, FailureTypes.InvalidPayload);
    }
    out[k] = v;
  }
  return out;
}

export class Neo4jAdapter {
  private ready: Promise<void> | undefined;
  constructor(
    readonly driver: Driver,
    private readonly database?: string,
  ) {}

  private session() {
    return this.driver.session(this.database ? { database: this.database } : {});
  }

  /** Creates the unique constraint of the idempotency nodes (idempotent). */
  ensureSchema(): Promise<void> {
    this.ready ??= (async () => {
      const s = this.session();
      try {
        await s.run(
          `CREATE CONSTRAINT polysaga_idempotency_key IF NOT EXISTS FOR (i:${IDEM_LABEL}) REQUIRE i.key IS UNIQUE`,
        );
      } finally {
        await s.close();
      }
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async write<T extends JsonObject>(fn: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const s = this.session();
    try {
      return await s.executeWrite(fn);
    } finally {
      await s.close();
    }
  }

  private async once<T extends JsonObject>(
    key: string,
    operation: string,
    fn: (tx: ManagedTransaction) => Promise<T>,
  ): Promise<JsonObject> {
    await this.ensureSchema();
    const token = randomUUID();
    return this.write(async (tx) => {
      // MERGE on the unique key first: a concurrent run with the same key blocks here until we
      // commit, then finds our result instead of racing us on the user's own data.
      const claim = await tx.run(
        `MERGE (i:${IDEM_LABEL} {key: $key})
         ON CREATE SET i.operation = $operation, i.claim = $token, i.createdAt = datetime()
         RETURN i.operation AS operation, i.result AS result, i.claim AS claim`,
        { key, operation, token },
      );
      const rec = claim.records[0]!;
      if (rec.get('claim') !== token) {
        if (rec.get('operation') !== operation) {
          throw new ConflictError(
            `idempotency key ${JSON.stringify(key)} was already used for neo4j.${String(rec.get('operation'))}`,
          );
        }
        return JSON.parse(String(rec.get('result'))) as JsonObject;
      }
      const result = await fn(tx);
      await tx.run(`MATCH (i:${IDEM_LABEL} {key: $key}) SET i.result = $result REMOVE i.claim`, {
        key,
        result: JSON.stringify(result),
      });
      return result;
    });
  }

  private async findOne(
    tx: ManagedTransaction,
    ref: NodeRef,
  ): Promise<{ id: string; labels: string[]; props: JsonObject } | null> {
    const r = await tx.run(
      `MATCH (n:${cypherIdent(ref.label)} ${keyPattern(ref.key, 'key')}) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props LIMIT 2`,
      { key: ref.key },
    );
    if (r.records.length > 1) {
      throw new PermanentError(
        `${ref.label} ${JSON.stringify(ref.key)} matches more than one node`,
        FailureTypes.InvalidPayload,
      );
    }
    const rec = r.records[0];
    if (!rec) return null;
    return {
      id: String(rec.get('id')),
      labels: rec.get('labels') as string[],
      props: toJson(rec.get('props')) as JsonObject,
    };
  }

  /** CREATE a node. Compensation: graph_delete_node. */
  createNode(
    idemKey: string,
    p: { labels: string[]; properties: JsonObject; keyProperties: string[] },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'create_node', async (tx) => {
      const key = pick(p.properties, p.keyProperties);
      const r = await tx.run(
        `CREATE (n${p.labels.map((l) => `:${cypherIdent(l)}`).join('')}) SET n = $props RETURN properties(n) AS props`,
        {
          props: p.properties,
        },
      );
      const after = toJson(r.records[0]!.get('props')) as JsonObject;
      const change: NodeChange = {
        label: p.labels[0]!,
        key,
        labels: p.labels,
        before: null,
        after,
        relationships: [],
      };
      return change;
    });
  }

  /** MERGE a node on label + key, then SET its properties. Compensation: graph_restore_node. */
  mergeNode(
    idemKey: string,
    p: { label: string; key: JsonObject; properties: JsonObject },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'merge_node', async (tx) => {
      const existing = await this.findOne(tx, p);
      const r = await tx.run(
        `MERGE (n:${cypherIdent(p.label)} ${keyPattern(p.key, 'key')}) SET n += $props RETURN properties(n) AS props, labels(n) AS labels`,
        { key: p.key, props: p.properties },
      );
      const after = toJson(r.records[0]!.get('props')) as JsonObject;
      const change: NodeChange = {
        label: p.label,
        key: p.key,
        labels: existing?.labels ?? [p.label],
        before: existing?.props ?? null,
        after,
        relationships: [],
      };
      return change;
    });
  }

  /** SET properties on an existing node. Compensation: graph_restore_node. */
  setProperties(
    idemKey: string,
    p: { label: string; key: JsonObject; properties: JsonObject },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'set_properties', async (tx) => {
      const existing = await this.findOne(tx, p);
      if (!existing)
        throw new PermanentError(
          `no ${p.label} node with key ${JSON.stringify(p.key)}`,
          FailureTypes.NotFound,
        );
      const r = await tx.run(
        `MATCH (n) WHERE elementId(n) = $id SET n += $props RETURN properties(n) AS props`,
        {
          id: existing.id,
          props: p.properties,
        },
      );
      const after = toJson(r.records[0]!.get('props')) as JsonObject;
      const change: NodeChange = {
        label: p.label,
        key: pick(after, Object.keys(p.key)),
        labels: existing.labels,
        before: existing.props,
        after,
        relationships: [],
      };
      return change;
    });
  }

  /** DETACH DELETE a node; its labels, properties and relationships are the before-image. Compensation: graph_restore_node. */
  deleteNode(idemKey: string, p: NodeRef): Promise<JsonObject> {
    return this.once(idemKey, 'delete_node', async (tx) => {
      const existing = await this.findOne(tx, p);
      const change: NodeChange = {
        label: p.label,
        key: p.key,
        labels: existing?.labels ?? [p.label],
        before: null,
        after: null,
        relationships: [],
      };
      if (!existing) return change;
      const rels = await tx.run(
        `MATCH (n)-[r]-(m) WHERE elementId(n) = $id
         RETURN type(r) AS type, properties(r) AS props, startNode(r) = n AS outgoing, elementId(m) AS other`,
        { id: existing.id },
      );
      change.before = existing.props;
      change.relationships = rels.records.map((rec) => ({
        type: String(rec.get('type')),
        properties: toJson(rec.get('props')) as JsonObject,
        outgoing: Boolean(rec.get('outgoing')),
        otherId: String(rec.get('other')),
      }));
      change.oldElementId = existing.id;
      await tx.run(`MATCH (n) WHERE elementId(n) = $id DETACH DELETE n`, { id: existing.id });
      return change;
    });
  }

  /** CREATE a relationship between two existing nodes. Compensation: graph_delete_relationship. */
  createRelationship(
    idemKey: string,
    p: { from: NodeRef; to: NodeRef; type: string; properties: JsonObject },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'create_relationship', async (tx) => {
      const a = await this.findOne(tx, p.from);
      const b = await this.findOne(tx, p.to);
      if (!a || !b) {
        const missing = !a ? p.from : p.to;
        throw new PermanentError(
          `no ${missing.label} node with key ${JSON.stringify(missing.key)}`,
          FailureTypes.NotFound,
        );
      }
      const r = await tx.run(
        `MATCH (a) WHERE elementId(a) = $a MATCH (b) WHERE elementId(b) = $b
         CREATE (a)-[r:${cypherIdent(p.type)}]->(b) SET r = $props RETURN elementId(r) AS id, properties(r) AS props`,
        { a: a.id, b: b.id, props: p.properties },
      );
      const rec = r.records[0]!;
      const change: RelationshipChange = {
        elementId: String(rec.get('id')),
        type: p.type,
        from: { label: p.from.label, key: p.from.key },
        to: { label: p.to.label, key: p.to.key },
        properties: toJson(rec.get('props')) as JsonObject,
      };
      return change;
    });
  }

  /**
   * Puts a node back as it was: deletes a node the step created (before null), restores the
   * old properties, or re-creates a deleted node with its relationships. Already as it was →
   * `absent`; changed by someone else → {@link ConflictError}.
   */
  restoreNode(change: NodeChange): Promise<'undone' | 'absent'> {
    return this.write(async (tx) => {
      const ref = { label: change.label, key: change.key };
      const current = await this.findOne(tx, ref);
      const props = current?.props ?? null;
      if (change.after !== null && props !== null && jsonEqual(props, change.after)) {
        if (change.before === null) {
          await tx.run(`MATCH (n) WHERE elementId(n) = $id DETACH DELETE n`, { id: current!.id });
        } else {
          await tx.run(`MATCH (n) WHERE elementId(n) = $id SET n = $props`, {
            id: current!.id,
            props: change.before,
          });
        }
        return { outcome: 'undone' as const };
      }
      if (jsonEqual(props, change.before)) return { outcome: 'absent' as const };
      if (change.after === null && props === null && change.before !== null) {
        await this.recreate(tx, change);
        return { outcome: 'undone' as const };
      }
      throw new ConflictError(
        `${change.label} ${JSON.stringify(change.key)} changed since the step wrote it; not overwriting`,
      );
    }).then((r) => r.outcome);
  }

  private async recreate(tx: ManagedTransaction, change: NodeChange): Promise<void> {
    const r = await tx.run(
      `CREATE (n${change.labels.map((l) => `:${cypherIdent(l)}`).join('')}) SET n = $props RETURN elementId(n) AS id`,
      { props: change.before },
    );
    const id = String(r.records[0]!.get('id'));
    for (const rel of change.relationships) {
      const other = rel.otherId === change.oldElementId ? id : rel.otherId;
      const [a, b] = rel.outgoing ? [id, other] : [other, id];
      const made = await tx.run(
        `MATCH (a) WHERE elementId(a) = $a MATCH (b) WHERE elementId(b) = $b
         CREATE (a)-[r:${cypherIdent(rel.type)}]->(b) SET r = $props RETURN count(r) AS c`,
        { a, b, props: rel.properties },
      );
      if (Number(made.records[0]?.get('c') ?? 0) !== 1) {
        throw new ConflictError(
          `cannot restore ${rel.type} relationship of ${change.label} ${JSON.stringify(change.key)}: the other node is gone`,
        );
      }
    }
  }

  /** Deletes (detach) the node a step created if it still has the properties we wrote; gone → `absent`. */
  deleteCreatedNode(change: NodeChange): Promise<'undone' | 'absent'> {
    return this.write(async (tx) => {
      const current = await this.findOne(tx, { label: change.label, key: change.key });
      if (!current) return { outcome: 'absent' as const };
      if (!jsonEqual(current.props, change.after)) {
        throw new ConflictError(
          `${change.label} ${JSON.stringify(change.key)} changed since the step wrote it; not deleting`,
        );
      }
      await tx.run(`MATCH (n) WHERE elementId(n) = $id DETACH DELETE n`, { id: current.id });
      return { outcome: 'undone' as const };
    }).then((r) => r.outcome);
  }

  /** Deletes the relationship a step created (matched by id, type and both end nodes); gone → `absent`. */
  deleteRelationship(change: RelationshipChange): Promise<'undone' | 'absent'> {
    return this.write(async (tx) => {
      const r = await tx.run(
        `MATCH (a:${cypherIdent(change.from.label)} ${keyPattern(change.from.key, 'fromKey')})-[r:${cypherIdent(change.type)}]->(b:${cypherIdent(change.to.label)} ${keyPattern(change.to.key, 'toKey')})
         WHERE elementId(r) = $id RETURN properties(r) AS props`,
        { fromKey: change.from.key, toKey: change.to.key, id: change.elementId },
      );
      const rec = r.records[0];
      if (!rec) return { outcome: 'absent' as const };
      if (!jsonEqual(toJson(rec.get('props')), change.properties)) {
        throw new ConflictError(
          `${change.type} relationship changed since the step created it; not deleting`,
        );
      }
      await tx.run(`MATCH ()-[r]->() WHERE elementId(r) = $id DELETE r`, { id: change.elementId });
      return { outcome: 'undone' as const };
    }).then((r) => r.outcome);
  }
}
