/**
 * Vector store adapters behind one small interface, {@link VectorEngine}: Qdrant
 * (@qdrant/js-client-rest) and Chroma (chromadb, the real engine of the local stack).
 *
 * Points have string ids, an explicit embedding (never computed here: no embedding function,
 * no model download), flat metadata and an optional document. Qdrant needs unsigned-int or
 * UUID ids, so the Qdrant engine derives a UUID from the string id and keeps the original id and
 * the document in the payload (`_polysaga_id`, `_polysaga_document`).
 */
import { createHash } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import {
  ChromaClient,
  ChromaClientError,
  ChromaNotFoundError,
  ChromaUniqueError,
  ChromaValueError,
  InvalidArgumentError,
  InvalidCollectionError,
  type Collection,
  type Metadata,
  type Where,
} from 'chromadb';
import { FailureTypes } from '../../saga/contracts.js';
import { PermanentError } from '../errors.js';

export type MetadataValue = string | number | boolean;

/** A point as polysaga sees it, in every engine. */
export interface StoredPoint {
  id: string;
  vector: number[];
  metadata: Record<string, MetadataValue>;
  document: string | null;
}

/** Equality filter on metadata: every field must match. */
export type MetadataFilter = Record<string, MetadataValue>;

/** The operations the vector backend needs from an engine. */
export interface VectorEngine {
  readonly name: string;
  /** Creates the collection for vectors of `dimension` if it does not exist. */
  ensureCollection(collection: string, dimension: number): Promise<void>;
  upsert(collection: string, points: StoredPoint[]): Promise<void>;
  /** The points with these ids that exist (missing collection: none). */
  get(collection: string, ids: string[]): Promise<StoredPoint[]>;
  /** Every point whose metadata matches the filter (missing collection: none). */
  find(collection: string, filter: MetadataFilter): Promise<StoredPoint[]>;
  /** Deletes points by id (missing ids or collection: no-op). */
  delete(collection: string, ids: string[]): Promise<void>;
}

// ------------------------------------------------------------------------------------------ Qdrant

const ID_FIELD = '_polysaga_id';
const DOC_FIELD = '_polysaga_document';

/** Deterministic UUID (v5-style layout over SHA-1) for a string id. */
export function qdrantPointId(id: string): string {
  const h = createHash('sha1').update(`polysaga:${id}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

function isStatus(err: unknown, status: number): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === status;
}

export class QdrantEngine implements VectorEngine {
  readonly name = 'qdrant';
  readonly client: QdrantClient;
  constructor(opts: {
    url: string;
    apiKey?: string | undefined;
    timeoutMs?: number;
    distance?: 'Cosine' | 'Dot' | 'Euclid';
  }) {
    this.client = new QdrantClient({
      url: opts.url,
      ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      timeout: opts.timeoutMs ?? 30_000,
      checkCompatibility: false,
    });
    this.distance = opts.distance ?? 'Cosine';
  }
  private readonly distance: 'Cosine' | 'Dot' | 'Euclid';

  async ensureCollection(collection: string, dimension: number): Promise<void> {
    try {
      const info = await this.client.getCollection(collection);
      const vectors = info.config?.params?.vectors as { size?: number } | undefined;
      if (vectors?.size !== undefined && vectors.size !== dimension) {
        throw new PermanentError(
          `collection ${collection} holds vectors of size ${vectors.size}, not ${dimension}`,
          FailureTypes.InvalidPayload,
        );
      }
      return;
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
    try {
      await this.client.createCollection(collection, {
        vectors: { size: dimension, distance: this.distance },
      });
    } catch (err) {
      if (!isStatus(err, 409)) throw err; // created concurrently
    }
  }

  async upsert(collection: string, points: StoredPoint[]): Promise<void> {
    await this.client.upsert(collection, {
      wait: true,
      points: points.map((p) => ({
        id: qdrantPointId(p.id),
        vector: p.vector,
        payload: {
          ...p.metadata,
          [ID_FIELD]: p.id,
          ...(p.document !== null ? { [DOC_FIELD]: p.document } : {}),
        },
      })),
    });
  }

  private toPoint(r: { payload?: Record<string, unknown> | null; vector?: unknown }): StoredPoint {
    const payload = { ...(r.payload ?? {}) };
    const id = String(payload[ID_FIELD]);
    const document = typeof payload[DOC_FIELD] === 'string' ? payload[DOC_FIELD] : null;
    delete payload[ID_FIELD];
    delete payload[DOC_FIELD];
    return {
      id,
      vector: (r.vector as number[]) ?? [],
      metadata: payload as Record<string, MetadataValue>,
      document,
    };
  }

  async get(collection: string, ids: string[]): Promise<StoredPoint[]> {
    if (ids.length === 0) return [];
    try {
      const found = await this.client.retrieve(collection, {
        ids: ids.map(qdrantPointId),
        with_payload: true,
        with_vector: true,
      });
      return found.map((r) => this.toPoint(r));
    } catch (err) {
      if (isStatus(err, 404)) return [];
      throw err;
    }
  }

  async find(collection: string, filter: MetadataFilter): Promise<StoredPoint[]> {
    const out: StoredPoint[] = [];
    let offset: string | number | null | undefined;
    try {
      do {
        const page = await this.client.scroll(collection, {
          filter: { must: Object.entries(filter).map(([key, value]) => ({ key, match: { value } })) },
          limit: 256,
          with_payload: true,
          with_vector: true,
          ...(offset !== undefined && offset !== null ? { offset } : {}),
        });
        out.push(...page.points.map((r) => this.toPoint(r)));
        offset = page.next_page_offset as string | number | null | undefined;
      } while (offset !== undefined && offset !== null);
    } catch (err) {
      if (isStatus(err, 404)) return [];
      throw err;
    }
    return out;
  }

  async delete(collection: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.client.delete(collection, { wait: true, points: ids.map(qdrantPointId) });
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
  }
}

// ------------------------------------------------------------------------------------------ Chroma

/** Maps Chroma client errors: bad input → permanent; connection/server errors stay transient. */
async function chroma<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (
      err instanceof ChromaValueError ||
      err instanceof InvalidArgumentError ||
      err instanceof InvalidCollectionError
    ) {
      throw new PermanentError((err as Error).message, FailureTypes.InvalidPayload, { cause: err });
    }
    if (
      err instanceof ChromaClientError &&
      !(err instanceof ChromaNotFoundError) &&
      !(err instanceof ChromaUniqueError)
    ) {
      throw new PermanentError((err as Error).message, FailureTypes.ClientError, { cause: err });
    }
    throw err;
  }
}

export class ChromaEngine implements VectorEngine {
  readonly name = 'chroma';
  readonly client: ChromaClient;
  private readonly collections = new Map<string, Collection>();
  constructor(opts: { url: string }) {
    const u = new URL(opts.url);
    this.client = new ChromaClient({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
      ssl: u.protocol === 'https:',
    });
  }

  private async collection(name: string): Promise<Collection | null> {
    const cached = this.collections.get(name);
    if (cached) return cached;
    try {
      // embeddingFunction: null — embeddings are always passed explicitly; nothing is downloaded.
      const c = await this.client.getCollection({ name, embeddingFunction: null as never });
      this.collections.set(name, c);
      return c;
    } catch (err) {
      if (err instanceof ChromaNotFoundError) return null;
      if (err instanceof Error && /does not exist|not found/i.test(err.message)) return null;
      throw err;
    }
  }

  async ensureCollection(name: string, dimension: number): Promise<void> {
    const existing = await this.collection(name);
    if (existing) {
      const stored = existing.metadata?.polysaga_dimension;
      if (typeof stored === 'number' && stored !== dimension) {
        throw new PermanentError(
          `collection ${name} holds vectors of size ${stored}, not ${dimension}`,
          FailureTypes.InvalidPayload,
        );
      }
      return;
    }
    const c = await chroma(() =>
      this.client.getOrCreateCollection({
        name,
        embeddingFunction: null,
        metadata: { polysaga_dimension: dimension },
      }),
    );
    this.collections.set(name, c);
  }

  async upsert(name: string, points: StoredPoint[]): Promise<void> {
    const c = await this.collection(name);
    if (!c) throw new PermanentError(`no collection ${name}`, FailureTypes.NotFound);
    await chroma(() =>
      c.upsert({
        ids: points.map((p) => p.id),
        embeddings: points.map((p) => p.vector),
        metadatas: points.map((p) => (Object.keys(p.metadata).length > 0 ? p.metadata : null)) as Metadata[],
        // Chroma accepts no null documents; '' stands for "no document" (the catalog forbids empty documents).
        documents: points.map((p) => p.document ?? ''),
      }),
    );
  }

  private rows(r: {
    ids: string[];
    embeddings: number[][];
    metadatas: (Metadata | null)[];
    documents: (string | null)[];
  }): StoredPoint[] {
    return r.ids.map((id, i) => ({
      id,
      vector: Array.from(r.embeddings[i] ?? []),
      metadata: (r.metadatas[i] ?? {}) as Record<string, MetadataValue>,
      document: r.documents[i] || null,
    }));
  }

  async get(name: string, ids: string[]): Promise<StoredPoint[]> {
    if (ids.length === 0) return [];
    const c = await this.collection(name);
    if (!c) return [];
    const r = await chroma(() => c.get({ ids, include: ['embeddings', 'metadatas', 'documents'] as never }));
    return this.rows(r);
  }

  async find(name: string, filter: MetadataFilter): Promise<StoredPoint[]> {
    const c = await this.collection(name);
    if (!c) return [];
    const entries = Object.entries(filter);
    const where = (entries.length === 1 ? filter : { $and: entries.map(([k, v]) => ({ [k]: v })) }) as Where;
    const r = await chroma(() =>
      c.get({ where, include: ['embeddings', 'metadatas', 'documents'] as never }),
    );
    return this.rows(r);
  }

  async delete(name: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const c = await this.collection(name);
    if (!c) return;
    await chroma(() => c.delete({ ids }));
  }
}
