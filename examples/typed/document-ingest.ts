/**
 * documentIngestSaga: the document ingest saga (examples/document-ingest.json) written in
 * TypeScript with the engine's step helper. Same engine, states and events as the generic
 * workflow running the JSON definition.
 *
 * Steps: row (postgres insert) → graph-node (neo4j create_node) → graph-relation (neo4j
 * create_relationship) → chunks (vector upsert) → original (s3 put_object). Each is undone by
 * its registered compensation, newest first.
 *
 * Register it with a worker by adding this file to its workflows (see docs/definitions.md).
 */
import type { SagaResult } from '../../src/saga/status.js';
import { runTypedSaga, type StepPlan } from '../../src/workflows/typed-saga.js';

export interface DocumentIngestInput {
  documentId: string;
  title: string;
  sourcePath: string;
  collectionId: string;
  chunks: { text: string; vector: number[] }[];
  /** The original file's text. */
  body: string;
  fileName: string;
  traceId?: string;
  /** Default `document:<id without the doc- prefix>`. */
  identityKey?: string;
}

const plan: StepPlan[] = [
  { id: 'row', backend: 'postgres', operation: 'insert' },
  { id: 'graph-node', backend: 'neo4j', operation: 'create_node' },
  { id: 'graph-relation', backend: 'neo4j', operation: 'create_relationship' },
  { id: 'chunks', backend: 'vector', operation: 'upsert' },
  { id: 'original', backend: 's3', operation: 'put_object' },
];

/** Ingests one document into PostgreSQL, Neo4j, the vector store and S3, or none of them. */
export async function documentIngestSaga(input: DocumentIngestInput): Promise<SagaResult> {
  const id = input.documentId;
  return runTypedSaga(
    {
      name: 'document-ingest',
      plan,
      identityKey: input.identityKey ?? `document:${id.replace(/^doc-/, '')}`,
      ...(input.traceId ? { traceId: input.traceId } : {}),
    },
    async (saga) => {
      await saga.step({
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: {
          table: 'documents',
          values: { id, title: input.title, source_path: input.sourcePath, status: 'ingested' },
        },
        compensation: 'relational_delete',
      });
      await saga.step({
        id: 'graph-node',
        backend: 'neo4j',
        operation: 'create_node',
        payload: { labels: ['Document'], properties: { id, title: input.title } },
        compensation: 'graph_delete_node',
      });
      await saga.step({
        id: 'graph-relation',
        backend: 'neo4j',
        operation: 'create_relationship',
        payload: {
          from: { label: 'Document', key: { id } },
          to: { label: 'Collection', key: { id: input.collectionId } },
          type: 'PART_OF',
        },
        compensation: 'graph_delete_relationship',
      });
      await saga.step({
        id: 'chunks',
        backend: 'vector',
        operation: 'upsert',
        payload: {
          collection: 'documents',
          points: input.chunks.map((c, i) => ({
            id: `${id}-${i}`,
            vector: c.vector,
            metadata: { document_id: id, chunk: i },
            document: c.text,
          })),
        },
        compensation: 'vector_delete_chunks',
      });
      await saga.step({
        id: 'original',
        backend: 's3',
        operation: 'put_object',
        payload: { key: `documents/${id}/${input.fileName}`, body: input.body, contentType: 'text/plain' },
        compensation: 's3_restore_object',
      });
    },
  );
}
