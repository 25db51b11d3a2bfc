/**
 * What `polysaga verify` reads of the kv store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import type { Json } from '../../saga/contracts.js';
import type { RedisClient } from './adapter.js';
import type { BackendSnapshot } from '../define.js';

/** A key's string value and whether it expires (other types: their type only). */
export async function kvKey(redis: RedisClient, key: string): Promise<Json> {
  const type = await redis.type(key);
  if (type === 'none') return null;
  if (type !== 'string') return { type };
  const value = await redis.get(key);
  const pttl = await redis.pTTL(key);
  return { value: value === null ? null : String(value), expires: Number(pttl) >= 0 };
}

/** A key verify reads. */
export interface KvKeyTarget {
  kind: 'kv-key';
  key: string;
}

/** The key a kv step touches. */
export function kvTargets(p: Record<string, unknown>): KvKeyTarget[] {
  return [{ kind: 'kv-key', key: String(p.key) }];
}

/** What `polysaga verify` checks of the kv store: the key a step touches. */
export const kvSnapshot: BackendSnapshot<KvKeyTarget> = {
  targets: (_operation, p) => kvTargets(p),
  describe: (t) => `kv ${t.key}`,
  connect: ({ adapters }) => ({ read: (t) => kvKey(adapters.kv.client, t.key) }),
};
