// The golden-set check's evaluation as figures for the review pane: the candidate version's
// metrics with their 95% bootstrap intervals, examples, errors and latency, read from the
// evaluation's summary (promptops/evaluation/summary.py; the API types it as a plain object).

export interface MetricFigure {
  name: string;
  value: number;
  low: number | null;
  high: number | null;
}

export interface GoldenFigures {
  n: number | null;
  errors: number | null;
  p50: number | null;
  p95: number | null;
  costUsd: number | null;
  metrics: MetricFigure[];
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** The figures of ``versionId`` in an evaluation summary, or null when it has none (yet).
 * ``first`` names the metric to list first (the policy's). */
export function goldenFigures(summary: unknown, versionId: string, first?: string | null): GoldenFigures | null {
  const versions = obj(summary).versions;
  if (!Array.isArray(versions)) return null;
  const row = versions.map(obj).find((v) => v.version_id === versionId);
  if (!row) return null;
  const metrics: MetricFigure[] = [];
  for (const [name, figure] of Object.entries(obj(row.metrics))) {
    const f = obj(figure);
    const value = num(f.value);
    if (value != null) metrics.push({ name, value, low: num(f.ci_low), high: num(f.ci_high) });
  }
  metrics.sort((a, b) => Number(b.name === first) - Number(a.name === first) || a.name.localeCompare(b.name));
  const latency = obj(row.latency_ms);
  return {
    n: num(row.n),
    errors: num(row.errors),
    p50: num(latency.p50),
    p95: num(latency.p95),
    costUsd: num(row.cost_usd),
    metrics,
  };
}
