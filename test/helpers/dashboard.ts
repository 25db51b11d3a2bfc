import { readFileSync } from 'node:fs';

/** Every metric name (polysaga_* or temporal_*) the Grafana dashboard queries. */
export function dashboardMetricNames(path = 'docs/grafana/polysaga.json'): string[] {
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
    templating?: { list: { query?: unknown }[] };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...(dashboard.templating?.list ?? []).map((v) => (typeof v.query === 'string' ? v.query : '')),
  ];
  return [...new Set(exprs.flatMap((e) => e.match(/\b(?:polysaga|temporal)_[a-z0-9_]+/g) ?? []))].sort();
}
