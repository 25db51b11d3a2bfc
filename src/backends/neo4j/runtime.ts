/**
 * `neo4j` backend: create_node, merge_node, set_properties, create_relationship, delete_node.
 *
 * Idempotency: a `(:PolysagaIdempotency {key})` node is written in the same transaction.
 * Compensations: `graph_delete_node`, `graph_restore_node` (before-image back),
 * `graph_delete_relationship`; each refuses to overwrite a node changed since.
 */
import type {
  CreateNodePayload,
  CreateRelationshipPayload,
  DeleteNodePayload,
  MergeNodePayload,
  SetPropertiesPayload,
} from './catalog.js';
import type { Neo4jAdapter, NodeChange, RelationshipChange } from './adapter.js';
import { op, type Backend } from '../types.js';
import { defineBackend } from '../define.js';
import { neo4jSnapshot } from './snapshot.js';
import { neo4jCatalog } from './catalog.js';

export function createNeo4jBackend(adapter: Neo4jAdapter): Backend {
  return {
    name: 'neo4j',
    operations: {
      create_node: op<CreateNodePayload>((p, ctx) => adapter.createNode(ctx.idempotencyKey, p)),
      merge_node: op<MergeNodePayload>((p, ctx) => adapter.mergeNode(ctx.idempotencyKey, p)),
      set_properties: op<SetPropertiesPayload>((p, ctx) => adapter.setProperties(ctx.idempotencyKey, p)),
      create_relationship: op<CreateRelationshipPayload>((p, ctx) =>
        adapter.createRelationship(ctx.idempotencyKey, p),
      ),
      delete_node: op<DeleteNodePayload>((p, ctx) => adapter.deleteNode(ctx.idempotencyKey, p)),
    },
    compensations: {
      graph_delete_node: async (input) => ({
        outcome: await adapter.deleteCreatedNode(input.result as NodeChange),
      }),
      graph_restore_node: async (input) => ({
        outcome: await adapter.restoreNode(input.result as NodeChange),
      }),
      graph_delete_relationship: async (input) => ({
        outcome: await adapter.deleteRelationship(input.result as RelationshipChange),
      }),
    },
  };
}

/** The `neo4j` backend: its catalog and handlers over the worker's neo4j client. */
export const neo4jBackend = defineBackend({
  ...neo4jCatalog,
  snapshot: neo4jSnapshot,
  connect: ({ adapters }) => createNeo4jBackend(adapters.neo4j),
});
