/**
 * The Grafana dashboard (docs/grafana/polysaga.json) parses and queries only metrics the worker
 * exports: polysaga's (METRIC_NAMES, histograms with _bucket/_sum/_count) here, the SDK's
 * `temporal_*` ones against a real scrape in test/integration/observability.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dashboardMetricNames } from '../../helpers/dashboard.js';
import { METRIC_NAMES } from '../../../src/observability/metrics.js';

const HISTOGRAMS = [
  METRIC_NAMES.stepDuration,
  METRIC_NAMES.compensationDuration,
  METRIC_NAMES.rollbackDuration,
] as string[];
const exported = new Set<string>([
  ...Object.values(METRIC_NAMES).filter((n) => !HISTOGRAMS.includes(n)),
  ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
]);

describe('docs/grafana/polysaga.json', () => {
  const dashboard = JSON.parse(readFileSync('docs/grafana/polysaga.json', 'utf8')) as {
    title: string;
    panels: { targets: { expr: string }[] }[];
  };

  it('is a dashboard whose panels all have queries', () => {
    expect(dashboard.title).toBe('polysaga');
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const p of dashboard.panels) expect(p.targets.length).toBeGreaterThan(0);
  });

  it('queries only polysaga metrics the worker exports, and covers the seed figures', () => {
    const names = dashboardMetricNames();
    const polysaga = names.filter((n) => n.startsWith('polysaga_'));
    expect(polysaga.filter((n) => !exported.has(n))).toEqual([]);
    for (const n of [
      METRIC_NAMES.committed,
      METRIC_NAMES.rolledBack,
      `${METRIC_NAMES.rollbackDuration}_bucket`,
      METRIC_NAMES.partialRollbackFailures,
    ])
      expect(polysaga).toContain(n);
  });
});
