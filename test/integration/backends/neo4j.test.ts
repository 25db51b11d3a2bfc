/**
 * neo4j backend against the real Neo4j 5.26 of the stack: every operation, its compensation
 * (run twice), the double-run idempotency check, conflicts and error mapping.
 */
import type { Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createNeo4jDriver, Neo4jAdapter } from '../../../src/backends/neo4j/adapter.js';
import { createNeo4jBackend } from '../../../src/backends/neo4j/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

let driver: Driver;
let acts: ReturnType<typeof createStepActivities>;
// A label of its own per run keeps tests independent of other data in the database.
const L = uniq('Doc');
const T = uniq('Topic');

async function query(cypher: string, params: Record<string, unknown> = {}) {
  const s = driver.session();
  try {
    return (await s.run(cypher, params)).records.map((r) => r.toObject());
  } finally {
    await s.close();
  }
}
const nodes = (id: string) =>
  query(`MATCH (n:${L} {id: $id}) RETURN properties(n) AS p ORDER BY n.id`, { id });

beforeAll(() => {
  driver = createNeo4jDriver(loadConfig().neo4j);
  acts = createStepActivities({
    catalog: builtinCatalog,
    backends: [createNeo4jBackend(new Neo4jAdapter(driver))],
  });
});
afterAll(async () => {
  await query(`MATCH (n) WHERE n:${L} OR n:${T} DETACH DELETE n`).catch(() => undefined);
  await driver?.close();
});

describe('neo4j backend (real Neo4j)', () => {
  it('create_node: one node for two runs; graph_delete_node removes it, twice', async () => {
    const step = stepInput('neo4j', 'create_node', {
      labels: [L, 'Extra'],
      properties: { id: 'n1', title: 'Hello', tags: ['a', 'b'] },
    });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await nodes('n1')).toEqual([{ p: { id: 'n1', title: 'Hello', tags: ['a', 'b'] } }]);
    const comp = compensationInput(step, r1.result, 'graph_delete_node');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await nodes('n1')).toEqual([]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('two concurrent runs with the same key: one node, one result', async () => {
    const step = stepInput('neo4j', 'create_node', { labels: [L], properties: { id: 'cc1' } });
    const [a, b, c] = await Promise.all([
      acts.executeStep(step),
      acts.executeStep(step),
      acts.executeStep(step),
    ]);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(await nodes('cc1')).toHaveLength(1);
  });

  it('merge_node of a new and an existing node; graph_restore_node undoes both, twice', async () => {
    const fresh = stepInput('neo4j', 'merge_node', {
      label: L,
      key: { id: 'm1' },
      properties: { title: 'new' },
    });
    const f = await acts.executeStep(fresh);
    expect(await acts.executeStep(fresh)).toEqual(f);
    expect(await nodes('m1')).toEqual([{ p: { id: 'm1', title: 'new' } }]);

    await query(`CREATE (:${L} {id: 'm2', title: 'old', n: 1})`);
    const existing = stepInput('neo4j', 'merge_node', {
      label: L,
      key: { id: 'm2' },
      properties: { title: 'changed' },
    });
    const e = await acts.executeStep(existing);
    expect(await acts.executeStep(existing)).toEqual(e);
    expect(e.result.before).toEqual({ id: 'm2', title: 'old', n: 1 });
    expect(await nodes('m2')).toEqual([{ p: { id: 'm2', title: 'changed', n: 1 } }]);

    for (const [s, r] of [
      [fresh, f],
      [existing, e],
    ] as const) {
      const comp = compensationInput(s, r.result, 'graph_restore_node');
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
      expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    }
    expect(await nodes('m1')).toEqual([]);
    expect(await nodes('m2')).toEqual([{ p: { id: 'm2', title: 'old', n: 1 } }]);
  });

  it('set_properties: before-image captured once; restored, twice; conflict when changed since', async () => {
    await query(`CREATE (:${L} {id: 's1', title: 'old'})`);
    const step = stepInput('neo4j', 'set_properties', {
      label: L,
      key: { id: 's1' },
      properties: { title: 'new', n: 2 },
    });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(r1.result.before).toEqual({ id: 's1', title: 'old' });
    const comp = compensationInput(step, r1.result, 'graph_restore_node');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await nodes('s1')).toEqual([{ p: { id: 's1', title: 'old' } }]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });

    const again = stepInput('neo4j', 'set_properties', {
      label: L,
      key: { id: 's1' },
      properties: { title: 'mine' },
    });
    const r2 = await acts.executeStep(again);
    await query(`MATCH (n:${L} {id: 's1'}) SET n.title = 'theirs'`);
    await expectFailure(
      acts.compensateStep(compensationInput(again, r2.result, 'graph_restore_node')),
      FailureTypes.Conflict,
    );
    expect(await nodes('s1')).toEqual([{ p: { id: 's1', title: 'theirs' } }]);
  });

  it('create_relationship: one relationship for two runs; graph_delete_relationship removes it, twice', async () => {
    await query(`CREATE (:${L} {id: 'r1'}), (:${T} {name: 'graphs'})`);
    const step = stepInput('neo4j', 'create_relationship', {
      from: { label: L, key: { id: 'r1' } },
      to: { label: T, key: { name: 'graphs' } },
      type: 'ABOUT',
      properties: { weight: 0.5 },
    });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    const rels = () => query(`MATCH (:${L} {id: 'r1'})-[r:ABOUT]->(:${T}) RETURN properties(r) AS p`);
    expect(await rels()).toEqual([{ p: { weight: 0.5 } }]);
    const comp = compensationInput(step, r1.result, 'graph_delete_relationship');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await rels()).toEqual([]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('delete_node (detach): before-image with relationships; graph_restore_node re-creates both, twice', async () => {
    await query(`CREATE (d:${L}:Extra {id: 'd1', title: 'doomed'})-[:ABOUT {w: 1}]->(:${T} {name: 'd-topic'}),
                        (:${T} {name: 'd-src'})-[:CITES]->(d)`);
    const step = stepInput('neo4j', 'delete_node', { label: L, key: { id: 'd1' } });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await nodes('d1')).toEqual([]);
    expect(r1.result.before).toEqual({ id: 'd1', title: 'doomed' });

    const comp = compensationInput(step, r1.result, 'graph_restore_node');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    const back = await query(
      `MATCH (d:${L} {id: 'd1'}) OPTIONAL MATCH (d)-[a:ABOUT]->(t:${T}) OPTIONAL MATCH (s:${T})-[:CITES]->(d)
       RETURN labels(d) AS labels, properties(d) AS p, a.w AS w, t.name AS topic, s.name AS src`,
    );
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ p: { id: 'd1', title: 'doomed' }, w: 1, topic: 'd-topic', src: 'd-src' });
    expect((back[0]!.labels as string[]).sort()).toEqual(['Extra', L].sort());
  });

  describe('error mapping', () => {
    it('unique constraint violation → ConstraintViolation', async () => {
      const U = uniq('Uniq');
      await query(`CREATE CONSTRAINT ${U}_id IF NOT EXISTS FOR (n:${U}) REQUIRE n.id IS UNIQUE`);
      try {
        await acts.executeStep(
          stepInput('neo4j', 'create_node', { labels: [U], properties: { id: 'same' } }),
        );
        await expectFailure(
          acts.executeStep(stepInput('neo4j', 'create_node', { labels: [U], properties: { id: 'same' } })),
          FailureTypes.ConstraintViolation,
        );
      } finally {
        await query(`MATCH (n:${U}) DELETE n`);
        await query(`DROP CONSTRAINT ${U}_id IF EXISTS`);
      }
    });

    it('unsafe labels → InvalidPayload; missing node → NotFound', async () => {
      await expectFailure(
        acts.executeStep(
          stepInput('neo4j', 'create_node', {
            labels: ['Doc`) DETACH DELETE n //'],
            properties: { id: 'x' },
          }),
        ),
        FailureTypes.InvalidPayload,
      );
      await expectFailure(
        acts.executeStep(
          stepInput('neo4j', 'set_properties', { label: L, key: { id: 'nope' }, properties: { a: 1 } }),
        ),
        FailureTypes.NotFound,
      );
      await expectFailure(
        acts.executeStep(
          stepInput('neo4j', 'create_relationship', {
            from: { label: L, key: { id: 'nope' } },
            to: { label: T, key: { name: 'x' } },
            type: 'X',
          }),
        ),
        FailureTypes.NotFound,
      );
    });
  });
});
