/** Catalog of the `neo4j` backend (pure zod). */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { NEO4J_STEP_OPTIONS } from '../../saga/activity-options.js';
import { identifier } from '../schemas.js';
import type { StoreTarget } from '../../saga/guard.js';

/** Neo4j property values: scalars or arrays of scalars (no nested maps). */
const propValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);
const properties = z.record(identifier, propValue);
const nonEmpty = (o: Record<string, unknown>) => Object.keys(o).length > 0;
/** Identifies a node: a label plus property → value that is unique for it. */
export const nodeRef = z.object({
  label: identifier,
  key: properties.refine(nonEmpty, 'key must name at least one property'),
});

export const createNodePayload = z.object({
  labels: z.array(identifier).min(1),
  properties,
  /** Properties that identify the node (for the compensation). Default ["id"]. */
  keyProperties: z.array(identifier).min(1).default(['id']),
});
export const mergeNodePayload = z.object({
  label: identifier,
  key: properties.refine(nonEmpty, 'key must name at least one property'),
  properties: properties.default({}),
});
export const setPropertiesPayload = nodeRef.extend({
  properties: properties.refine(nonEmpty, 'nothing to set'),
});
export const createRelationshipPayload = z.object({
  from: nodeRef,
  to: nodeRef,
  type: identifier,
  properties: properties.default({}),
});
export const deleteNodePayload = nodeRef;

export type CreateNodePayload = z.infer<typeof createNodePayload>;
export type MergeNodePayload = z.infer<typeof mergeNodePayload>;
export type SetPropertiesPayload = z.infer<typeof setPropertiesPayload>;
export type CreateRelationshipPayload = z.infer<typeof createRelationshipPayload>;
export type DeleteNodePayload = z.infer<typeof deleteNodePayload>;
export type NodeRef = z.infer<typeof nodeRef>;

const label = (field: string, value: string): StoreTarget => ({ kind: 'label', field, label: value });
const refTarget = (p: { label: string }): StoreTarget[] => [label('label', p.label)];

export const neo4jCatalog = {
  name: 'neo4j',
  retry: NEO4J_STEP_OPTIONS,
  operations: {
    create_node: {
      payload: createNodePayload,
      targets: (p: CreateNodePayload) => p.labels.map((l, i) => label(`labels[${i}]`, l)),
      defaultCompensation: 'graph_delete_node',
      description: 'CREATE a node with labels and properties; result holds its elementId and properties.',
    },
    merge_node: {
      payload: mergeNodePayload,
      targets: refTarget,
      defaultCompensation: 'graph_restore_node',
      description:
        'MERGE a node on label + key and set properties; result says whether it was created and its old properties.',
    },
    set_properties: {
      payload: setPropertiesPayload,
      targets: refTarget,
      defaultCompensation: 'graph_restore_node',
      description: 'SET properties on the node identified by label + key; result holds the old properties.',
    },
    create_relationship: {
      payload: createRelationshipPayload,
      targets: (p: CreateRelationshipPayload) => [
        label('from.label', p.from.label),
        label('to.label', p.to.label),
      ],
      defaultCompensation: 'graph_delete_relationship',
      description: 'CREATE a relationship between two existing nodes; result holds its elementId.',
    },
    delete_node: {
      payload: deleteNodePayload,
      targets: refTarget,
      defaultCompensation: 'graph_restore_node',
      description:
        'DETACH DELETE the node; result holds its labels, properties and relationships (before-image).',
    },
  },
  compensations: {
    graph_delete_node: {
      description: 'Deletes (detach) the node a step created, unless it changed since.',
    },
    graph_restore_node: {
      description:
        'Restores the node before-image: old properties, re-create a deleted node, or delete a merged-in node.',
    },
    graph_delete_relationship: { description: 'Deletes the relationship a step created.' },
  },
} satisfies BackendCatalog;
