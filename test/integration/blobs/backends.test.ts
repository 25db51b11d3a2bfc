/**
 * Before-image references through the worker's own composition (createBackendResources +
 * createActivities) against the real servers of the stack: neo4j (node properties and
 * relationships) and vector (Chroma points) keep their before-images in polysaga_blobs and
 * their compensations restore them; an inline compensation still sees `{{result.before…}}`;
 * a missing blob fails the compensation (non-retryable) instead of pretending it undid the step.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEFORE_IMAGE_REF_KEY } from '../../../src/blobs/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { FailureTypes, type JsonObject } from '../../../src/saga/contracts.js';
import type { SagaActivities } from '../../../src/saga/contracts.js';
import {
  createActivities,
  createBackendResources,
  type BackendResources,
} from '../../../src/workers/index.js';
import { compensationInput, expectFailure, stepInput, uniq } from '../backends/helpers.js';

const config = loadConfig();
const L = uniq('BlobDoc');
const T = uniq('BlobTopic');
const collection = uniq('blobvec').replace(/_/g, '-');
const table = `blobs_backends_${randomUUID().slice(0, 8)}`;
let resources: BackendResources;
let acts: SagaActivities;

async function cypher(q: string): Promise<Record<string, unknown>[]> {
  const s = resources.neo4j.session();
  try {
    return (await s.run(q)).records.map((r) => r.toObject());
  } finally {
    await s.close();
  }
}

const blobOf = async (key: string) =>
  (await resources.pool.query<{ key: string }>('SELECT key FROM polysaga_blobs WHERE key = $1', [key])).rows;

beforeAll(async () => {
  resources = await createBackendResources(config);
  acts = createActivities(resources, config);
  await resources.pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text NOT NULL)`);
});
afterAll(async () => {
  await cypher(`MATCH (n) WHERE n:${L} OR n:${T} DETACH DELETE n`).catch(() => undefined);
  await resources?.vector.delete(collection, ['v:0']).catch(() => undefined);
  await resources?.pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await resources?.close();
});

describe('before-images of the worker backends', () => {
  it('neo4j delete_node: properties and relationships in one blob; graph_restore_node re-creates both', async () => {
    await cypher(`CREATE (d:${L} {id: 'd1', title: 'doomed'})-[:ABOUT {w: 1}]->(:${T} {name: 'topic'})`);
    const step = stepInput('neo4j', 'delete_node', { label: L, key: { id: 'd1' } });
    const r = await acts.executeStep(step);
    expect(r.result).not.toHaveProperty('before');
    expect(r.result).not.toHaveProperty('relationships');
    expect(r.result[BEFORE_IMAGE_REF_KEY]).toMatchObject({
      blob: `before/${step.idempotencyKey}`,
      fields: ['before', 'relationships'],
    });
    expect(await blobOf(`before/${step.idempotencyKey}`)).toHaveLength(1);
    expect(await cypher(`MATCH (d:${L} {id: 'd1'}) RETURN d`)).toEqual([]);

    const comp = compensationInput(step, r.result, 'graph_restore_node');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    const back = await cypher(
      `MATCH (d:${L} {id: 'd1'})-[a:ABOUT]->(t:${T}) RETURN properties(d) AS p, a.w AS w, t.name AS topic`,
    );
    expect(back).toEqual([{ p: { id: 'd1', title: 'doomed' }, w: 1, topic: 'topic' }]);
  });

  it('vector upsert over an existing point: the old point comes back from its blob', async () => {
    const old = { id: 'v:0', vector: [1, 2, 3], metadata: { doc: 'v', v: 1 }, document: 'old text' };
    await resources.vector.ensureCollection(collection, 3);
    await resources.vector.upsert(collection, [old]);
    const step = stepInput('vector', 'upsert', {
      collection,
      points: [{ id: 'v:0', vector: [3, 2, 1], metadata: { doc: 'v', v: 2 }, document: 'new text' }],
    });
    const r = await acts.executeStep(step);
    expect(r.result).not.toHaveProperty('before');
    expect(r.result[BEFORE_IMAGE_REF_KEY]).toMatchObject({ fields: ['before'] });
    expect(JSON.stringify(r.result)).not.toContain('old text');
    expect((await resources.vector.get(collection, ['v:0']))[0]?.document).toBe('new text');

    const comp = compensationInput(step, r.result, 'vector_delete_chunks');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    const [p] = await resources.vector.get(collection, ['v:0']);
    expect(p).toMatchObject({ id: 'v:0', metadata: { doc: 'v', v: 1 }, document: 'old text' });
  });

  it('an inline compensation fills {{result.before.…}} from the resolved before-image', async () => {
    await resources.pool.query(`INSERT INTO ${table} (id, title) VALUES ('i1', 'inline-old')`);
    const step = stepInput('postgres', 'update', { table, key: { id: 'i1' }, set: { title: 'inline-new' } });
    const r = await acts.executeStep(step);
    expect(r.result).not.toHaveProperty('before');
    const comp = compensationInput(step, r.result, {
      operation: 'update',
      payload: { table, key: { id: 'i1' }, set: { title: '{{result.before.title}}' } },
    });
    expect((await acts.compensateStep(comp)).outcome).toBe('undone');
    const row = await resources.pool.query(`SELECT title FROM ${table} WHERE id = 'i1'`);
    expect(row.rows).toEqual([{ title: 'inline-old' }]);
  });

  it('a missing before-image blob fails the compensation (non-retryable) and changes nothing', async () => {
    await resources.pool.query(`INSERT INTO ${table} (id, title) VALUES ('m1', 'missing-old')`);
    const step = stepInput('postgres', 'update', { table, key: { id: 'm1' }, set: { title: 'missing-new' } });
    const r = await acts.executeStep(step);
    const ref = r.result[BEFORE_IMAGE_REF_KEY] as JsonObject;
    expect(await resources.blobs.delete(ref.blob as string)).toBe(true);
    const failure = await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 'relational_restore')),
      FailureTypes.NotFound,
    );
    expect(failure.message).toContain(ref.blob as string);
    const row = await resources.pool.query(`SELECT title FROM ${table} WHERE id = 'm1'`);
    expect(row.rows).toEqual([{ title: 'missing-new' }]);
  });
});
