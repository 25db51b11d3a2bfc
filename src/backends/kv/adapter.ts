/**
 * Redis adapter (node-redis): string keys with optional expiry, before-images and
 * compensations as Lua scripts, so that read-before-image + write + idempotency record
 * happen atomically on the server.
 *
 * Idempotency: the result of each operation is stored under `<prefix>:idem:<idempotency key>`
 * (default expiry 7 days) in the same script; a retry returns it without writing again.
 * (Single-instance / same-slot only: the scripts touch two keys.)
 */
import { createClient, ErrorReply } from 'redis';
import type { JsonObject } from '../../saga/contracts.js';
import { ConflictError, PermanentError } from '../errors.js';
import { FailureTypes } from '../../saga/contracts.js';

function makeClient(url: string) {
  return createClient({
    url,
    socket: { connectTimeout: 5_000, reconnectStrategy: (n) => Math.min(n * 100, 2_000) },
  });
}
export type RedisClient = ReturnType<typeof makeClient>;

/** Creates and connects a client; connection errors surface on commands (transient). */
export async function createRedisClient(url: string): Promise<RedisClient> {
  const client = makeClient(url);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

const SET_SCRIPT = `
local rec = redis.call('GET', KEYS[2])
if rec then return rec end
local old = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2])) else redis.call('SET', KEYS[1], ARGV[1]) end
local res = cjson.encode({operation='set', key=KEYS[1], existed=(old ~= false), before=(old or cjson.null), beforePttl=pttl, after=ARGV[1], ttlSeconds=(ARGV[2] ~= '' and tonumber(ARGV[2]) or cjson.null)})
redis.call('SET', KEYS[2], res, 'EX', tonumber(ARGV[3]))
return res`;

const DELETE_SCRIPT = `
local rec = redis.call('GET', KEYS[2])
if rec then return rec end
local old = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
local res = cjson.encode({operation='delete', key=KEYS[1], existed=(old ~= false), before=(old or cjson.null), beforePttl=pttl, after=cjson.null})
redis.call('SET', KEYS[2], res, 'EX', tonumber(ARGV[1]))
return res`;

// ARGV: afterIsNil, after, existed, before, beforePttl, mode ('restore' | 'delete')
const RESTORE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local matchesAfter = (ARGV[1] == '1' and cur == false) or (ARGV[1] == '0' and cur == ARGV[2])
local matchesBefore = (ARGV[3] == '1' and cur == ARGV[4]) or (ARGV[3] == '0' and cur == false)
if ARGV[6] == 'delete' then
  if cur == false then return 'absent' end
  if matchesAfter then redis.call('DEL', KEYS[1]) return 'undone' end
  return 'conflict'
end
if matchesAfter and not (matchesBefore and ARGV[1] == '1') then
  if ARGV[3] == '1' then
    local pttl = tonumber(ARGV[5])
    if pttl > 0 then redis.call('SET', KEYS[1], ARGV[4], 'PX', pttl) else redis.call('SET', KEYS[1], ARGV[4]) end
  else
    redis.call('DEL', KEYS[1])
  end
  return 'undone'
end
if matchesBefore then return 'absent' end
return 'conflict'`;

/** The result of a kv operation (before-image included). */
export interface KvChange extends JsonObject {
  operation: 'set' | 'delete';
  key: string;
  existed: boolean;
  before: string | null;
  /** PTTL of the old key in ms (-1: no expiry, -2: no key). */
  beforePttl: number;
  after: string | null;
}

/** Error replies of the server are permanent (WRONGTYPE, syntax …) except LOADING/BUSY/TRYAGAIN. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ErrorReply && !/^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)/.test(err.message)) {
      throw new PermanentError(err.message, FailureTypes.ClientError, { cause: err });
    }
    throw err;
  }
}

export class RedisAdapter {
  constructor(
    readonly client: RedisClient,
    private readonly opts: { prefix?: string; idempotencyTtlSeconds?: number } = {},
  ) {}

  private idemKey(key: string): string {
    return `${this.opts.prefix ?? 'polysaga'}:idem:${key}`;
  }
  private get idemTtl(): string {
    return String(this.opts.idempotencyTtlSeconds ?? 7 * 24 * 3600);
  }

  private decode(raw: unknown, operation: string, idemKey: string): KvChange {
    const r = JSON.parse(String(raw)) as KvChange;
    if (r.operation !== operation) {
      throw new ConflictError(
        `idempotency key ${JSON.stringify(idemKey)} was already used for kv.${r.operation}`,
      );
    }
    return r;
  }

  /** SET key (optional expiry). Compensation: kv_restore (or kv_delete). */
  async set(
    idemKey: string,
    p: { key: string; value: string; ttlSeconds?: number | undefined },
  ): Promise<KvChange> {
    const raw = await call(() =>
      this.client.eval(SET_SCRIPT, {
        keys: [p.key, this.idemKey(idemKey)],
        arguments: [p.value, p.ttlSeconds === undefined ? '' : String(p.ttlSeconds), this.idemTtl],
      }),
    );
    return this.decode(raw, 'set', idemKey);
  }

  /** DEL key. Compensation: kv_restore. */
  async delete(idemKey: string, p: { key: string }): Promise<KvChange> {
    const raw = await call(() =>
      this.client.eval(DELETE_SCRIPT, { keys: [p.key, this.idemKey(idemKey)], arguments: [this.idemTtl] }),
    );
    return this.decode(raw, 'delete', idemKey);
  }

  /**
   * Puts the before-image back (old value with its ttl, or no key), if the key still holds
   * what the step wrote; already restored → `absent`; changed by someone else → conflict.
   */
  restore(change: KvChange): Promise<'undone' | 'absent'> {
    return this.undo(change, 'restore');
  }

  /** Deletes the key if it still holds what the step wrote; gone → `absent`. */
  deleteWritten(change: KvChange): Promise<'undone' | 'absent'> {
    return this.undo(change, 'delete');
  }

  private async undo(change: KvChange, mode: 'restore' | 'delete'): Promise<'undone' | 'absent'> {
    if (typeof change.key !== 'string' || typeof change.existed !== 'boolean') {
      throw new PermanentError(
        'compensation needs the result of a kv step (key, existed, before, after)',
        FailureTypes.InvalidPayload,
      );
    }
    const out = await call(() =>
      this.client.eval(RESTORE_SCRIPT, {
        keys: [change.key],
        arguments: [
          change.after === null ? '1' : '0',
          change.after ?? '',
          change.existed ? '1' : '0',
          change.before ?? '',
          String(change.beforePttl),
          mode,
        ],
      }),
    );
    if (out === 'conflict')
      throw new ConflictError(`key ${change.key} changed since the step wrote it; not overwriting`);
    return out === 'undone' ? 'undone' : 'absent';
  }
}
