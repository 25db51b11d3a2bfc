import { describe, expect, it } from 'vitest';
import { mapLimit, percentile, ratio, summarize } from '../../../bench/stats.js';

describe('bench stats', () => {
  const thirty = Array.from({ length: 30 }, (_, i) => 30 - i); // 30 … 1, unsorted on purpose

  it('percentile uses the nearest rank: p50 of 1..30 is 15, p95 is 29, p99 is the maximum', () => {
    expect(percentile(thirty, 50)).toBe(15);
    expect(percentile(thirty, 95)).toBe(29);
    expect(percentile(thirty, 99)).toBe(30);
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('percentile refuses a p outside (0, 100], naming it', () => {
    expect(() => percentile(thirty, 0)).toThrow(/got 0/);
    expect(() => percentile(thirty, 101)).toThrow(/got 101/);
  });

  it('summarize gives n, p50, p95, p99, mean and max and leaves its input unsorted', () => {
    const s = summarize(thirty);
    expect(s).toEqual({ n: 30, p50: 15, p95: 29, p99: 30, mean: 15.5, max: 30 });
    expect(thirty[0]).toBe(30);
    expect(summarize([]).n).toBe(0);
  });

  it('ratio is null when a side is missing, not finite, or the base is 0', () => {
    expect(ratio(300, 100)).toBe(3);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(null, 1)).toBeNull();
    expect(ratio(1, undefined)).toBeNull();
    expect(ratio(Number.NaN, 1)).toBeNull();
  });

  it('mapLimit keeps at most `limit` calls in flight and settles each in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      if (n === 4) throw new Error('four');
      return n * 10;
    });
    expect(peak).toBe(3);
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      10,
      20,
      30,
      'four',
      50,
      60,
      70,
    ]);
  });
});
