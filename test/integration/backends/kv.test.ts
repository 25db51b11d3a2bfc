/**
 * kv backend against the real Redis of the stack: set (with expiry) and delete, their
 * compensations run twice, the double-run idempotency check, conflicts and error mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createRedisClient, RedisAdapter, type RedisClient } from '../../../src/backends/kv/adapter.js';
import { createKvBackend } from '../../../src/backends/kv/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

let client: RedisClient;
let acts: ReturnType<typeof createStepActivities>;

beforeAll(async () => {
  client = await createRedisClient(loadConfig().redis.url);
  acts = createStepActivities({
    catalog: builtinCatalog,
    backends: [createKvBackend(new RedisAdapter(client))],
  });
});
afterAll(async () => {
  await client?.quit();
});

describe('kv backend (real Redis)', () => {
  it('set of a new key: one write for two runs; kv_restore deletes it, twice', async () => {
    const key = uniq('kv:new');
    const step = stepInput('kv', 'set', { key, value: 'v1', ttlSeconds: 600 });
    const r1 = await acts.executeStep(step);
    // Someone else's later write must not be overwritten by a retry of our step.
    await client.set(key, 'theirs', { KEEPTTL: true });
    const r2 = await acts.executeStep(step);
    expect(r2).toEqual(r1);
    expect(await client.get(key)).toBe('theirs');
    await client.set(key, 'v1', { KEEPTTL: true });
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(r1.result).toMatchObject({ operation: 'set', key, existed: false, before: null, after: 'v1' });

    const comp = compensationInput(step, r1.result, 'kv_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await client.exists(key)).toBe(0);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('set over an existing key: before-image (value + ttl) restored, twice', async () => {
    const key = uniq('kv:old');
    await client.set(key, 'old', { EX: 1000 });
    const step = stepInput('kv', 'set', { key, value: 'new' });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await client.get(key)).toBe('new');
    expect(await client.ttl(key)).toBe(-1);
    expect(r1.result).toMatchObject({ existed: true, before: 'old' });

    const comp = compensationInput(step, r1.result, 'kv_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await client.get(key)).toBe('old');
    expect(await client.ttl(key)).toBeGreaterThan(990);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    await client.del(key);
  });

  it('kv_delete deletes the key we set, twice', async () => {
    const key = uniq('kv:del');
    const step = stepInput('kv', 'set', { key, value: 'x' });
    const r = await acts.executeStep(step);
    const comp = compensationInput(step, r.result, 'kv_delete');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await client.exists(key)).toBe(0);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('delete: one delete for two runs; kv_restore puts value and ttl back, twice', async () => {
    const key = uniq('kv:gone');
    await client.set(key, 'keep me', { EX: 500 });
    const step = stepInput('kv', 'delete', { key });
    const r1 = await acts.executeStep(step);
    await client.set(key, 'recreated');
    // A retry must not delete the key recreated in between.
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await client.get(key)).toBe('recreated');
    await client.del(key);
    expect(r1.result).toMatchObject({ operation: 'delete', existed: true, before: 'keep me', after: null });

    const comp = compensationInput(step, r1.result, 'kv_restore');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await client.get(key)).toBe('keep me');
    expect(await client.ttl(key)).toBeGreaterThan(490);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    await client.del(key);
  });

  it('a value changed since our write: compensation reports a conflict and leaves it', async () => {
    const key = uniq('kv:conflict');
    const step = stepInput('kv', 'set', { key, value: 'ours' });
    const r = await acts.executeStep(step);
    await client.set(key, 'theirs');
    await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 'kv_restore')),
      FailureTypes.Conflict,
    );
    await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 'kv_delete')),
      FailureTypes.Conflict,
    );
    expect(await client.get(key)).toBe('theirs');
    await client.del(key);
  });

  it('error mapping: wrong type → ClientError; bad payload → InvalidPayload', async () => {
    const key = uniq('kv:list');
    await client.lPush(key, 'a');
    await expectFailure(
      acts.executeStep(stepInput('kv', 'set', { key, value: 'x' })),
      FailureTypes.ClientError,
    );
    expect(await client.type(key)).toBe('list');
    await client.del(key);
    await expectFailure(
      acts.executeStep(stepInput('kv', 'set', { key, value: 1 })),
      FailureTypes.InvalidPayload,
    );
    await expectFailure(
      acts.executeStep(stepInput('kv', 'set', { key, value: 'x', ttlSeconds: -5 })),
      FailureTypes.InvalidPayload,
    );
  });
});
