// The comparison table of an evaluation, read from its summary JSON the way
// `promptops eval show` reads it (promptops/cli/report.py): per metric each version's value
// with its 95% interval, then per candidate the paired difference from the baseline (the
// first version) with its interval, p-value and test; then examples (errors), latency
// p50/p95, tokens and cost.

export interface Interval {
  value: number;
  ci_low: number;
  ci_high: number;
}

export interface VersionSummary {
  version_id: string;
  n: number;
  errors: number;
  metrics: Record<string, Interval>;
  latency_ms?: { p50: number | null; p95: number | null };
  tokens_in?: number;
  tokens_out?: number;
  cost_usd?: number;
}

export interface PairedDiff {
  diff: number;
  ci_low: number;
  ci_high: number;
  p_value: number | null;
  test: "paired_bootstrap" | "mcnemar";
}

export interface Comparison {
  baseline: string;
  candidate: string;
  n_paired: number;
  metrics: Record<string, PairedDiff>;
}

export interface Summary {
  versions: VersionSummary[];
  comparisons: Comparison[];
}

export interface MetricInfo {
  name: string;
  kind: string;
  higher_is_better: boolean;
  description: string;
}

/** "0.412 [0.305, 0.519]" */
export function formatInterval(m: Interval | undefined): string {
  if (!m) return "—";
  return `${m.value.toFixed(3)} [${m.ci_low.toFixed(3)}, ${m.ci_high.toFixed(3)}]`;
}

function signed(x: number, digits = 3): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;
}

/** "+0.120 [+0.050, +0.190]" */
export function formatDiff(c: PairedDiff): string {
  return `${signed(c.diff)} [${signed(c.ci_low)}, ${signed(c.ci_high)}]`;
}

/** "<0.001" or "0.034" */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return "—";
  return p < 0.001 ? "<0.001" : p.toFixed(3);
}

export function testName(test: PairedDiff["test"]): string {
  return test === "mcnemar" ? "McNemar (exact)" : "paired bootstrap";
}

/** Whether a difference is significant at 5%, and then whether it is for the better. */
export function verdict(c: PairedDiff, higherIsBetter: boolean): "better" | "worse" | null {
  if (c.p_value === null || c.p_value >= 0.05 || c.diff === 0) return null;
  return c.diff > 0 === higherIsBetter ? "better" : "worse";
}

export interface DiffCell {
  text: string;
  p: string;
  test: string;
  verdict: "better" | "worse" | null;
}

export interface TableRow {
  label: string;
  /** Whether the row is a score (a metric) or a figure of the runs (latency, tokens...). */
  kind: "metric" | "figure";
  values: string[];
  /** One per comparison (candidate vs baseline); null where there is none. */
  diffs: (DiffCell | null)[];
}

function nf(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined ? "—" : x.toFixed(digits);
}

/** The rows of the comparison table: one per score metric of the evaluation (latency and
 * cost are figures, not scores), then the figures. */
export function comparisonRows(
  summary: Summary,
  metrics: string[],
  registry: Record<string, MetricInfo>,
): TableRow[] {
  const versions = summary.versions ?? [];
  const comparisons = summary.comparisons ?? [];
  const rows: TableRow[] = [];
  for (const name of metrics) {
    const kind = registry[name]?.kind;
    if (kind === "latency" || kind === "cost") continue;
    rows.push({
      label: name,
      kind: "metric",
      values: versions.map((v) => formatInterval(v.metrics?.[name])),
      diffs: comparisons.map((c) => {
        const d = c.metrics?.[name];
        return d
          ? {
              text: formatDiff(d),
              p: formatP(d.p_value),
              test: testName(d.test),
              verdict: verdict(d, registry[name]?.higher_is_better ?? true),
            }
          : null;
      }),
    });
  }
  rows.push({
    label: "examples (errors)",
    kind: "figure",
    values: versions.map((v) => `${v.n} (${v.errors})`),
    diffs: comparisons.map(() => null),
  });
  rows.push({
    label: "latency p50 / p95 ms",
    kind: "figure",
    values: versions.map((v) => `${nf(v.latency_ms?.p50, 0)} / ${nf(v.latency_ms?.p95, 0)}`),
    diffs: comparisons.map((c) => {
      const d = c.metrics?.latency_ms;
      return d
        ? {
            text: `${signed(d.diff, 0)} ms (mean)`,
            p: formatP(d.p_value),
            test: testName(d.test),
            verdict: verdict(d, false),
          }
        : null;
    }),
  });
  rows.push({
    label: "tokens in / out",
    kind: "figure",
    values: versions.map((v) => `${v.tokens_in ?? 0} / ${v.tokens_out ?? 0}`),
    diffs: comparisons.map(() => null),
  });
  rows.push({
    label: "cost USD",
    kind: "figure",
    values: versions.map((v) => (v.cost_usd ?? 0).toFixed(6)),
    diffs: comparisons.map(() => null),
  });
  return rows;
}

export interface VersionName {
  id: string;
  prompt_name: string;
  version: number;
}

/** "capital v2" (the version's prompt and number), else the id's first 8 characters. */
export function versionLabel(id: string, versions: VersionName[]): string {
  const v = versions.find((x) => x.id === id);
  return v ? `${v.prompt_name} v${v.version}` : id.slice(0, 8);
}
