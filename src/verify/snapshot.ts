/**
 * Reads the current state of every target (see targets.ts) from the real servers, as canonical
 * JSON, so that two snapshots can be compared with string equality. `null` means absent. Each
 * backend's reader comes from the `snapshot` of its definition (the built-ins' are in
 * `src/backends/<name>/snapshot.ts`).
 */
import type { ConnectContext, SnapshotReader } from '../backends/define.js';
import type { Json } from '../saga/contracts.js';
import { stableJson, type BackendSnapshots, type Target, type TargetSpec } from './targets.js';

/** The open readers of the backends a saga touches, by backend name. */
export interface SnapshotReaders {
  readers: ReadonlyMap<string, SnapshotReader>;
  /** Closes every reader. */
  close(): Promise<void>;
}

/** target id → canonical JSON of what is there (`null` when absent). */
export type Snapshot = Map<string, string>;

/** Opens the reader of each backend that `targets` name, from its snapshot. */
export async function openSnapshotReaders(
  snapshots: BackendSnapshots,
  targets: readonly Target[],
  ctx: ConnectContext,
): Promise<SnapshotReaders> {
  const readers = new Map<string, SnapshotReader>();
  const close = async () => {
    await Promise.allSettled([...readers.values()].map(async (r) => r.close?.()));
  };
  try {
    for (const backend of new Set(targets.map((t) => t.backend))) {
      const snapshot = snapshots[backend];
      if (!snapshot) throw new Error(`backend "${backend}" has no snapshot`);
      try {
        readers.set(backend, await snapshot.connect(ctx));
      } catch (err) {
        throw new Error(
          `cannot open the snapshot reader of backend "${backend}": ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { readers, close };
}

/** Reads one target with its backend's reader. */
export async function readTarget(readers: SnapshotReaders, backend: string, spec: TargetSpec): Promise<Json> {
  const reader = readers.readers.get(backend);
  if (!reader) throw new Error(`no snapshot reader for backend "${backend}"`);
  return reader.read(spec);
}

/** Reads every target. */
export async function takeSnapshot(readers: SnapshotReaders, targets: readonly Target[]): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const t of targets) {
    try {
      out.set(t.id, stableJson(await readTarget(readers, t.backend, t.spec)));
    } catch (err) {
      throw new Error(`cannot snapshot ${t.id}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}
