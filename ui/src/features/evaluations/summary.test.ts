import { describe, expect, it } from "vitest";
import {
  comparisonRows,
  formatDiff,
  formatInterval,
  formatP,
  verdict,
  versionLabel,
  type MetricInfo,
  type Summary,
} from "./summary";

const registry: Record<string, MetricInfo> = Object.fromEntries(
  [
    ["accuracy", "label", true],
    ["rouge1", "text", true],
    ["latency_ms", "latency", false],
    ["cost_usd", "cost", false],
  ].map(([name, kind, higher]) => [
    name,
    { name, kind, higher_is_better: higher, description: "" } as MetricInfo,
  ]),
);

const summary: Summary = {
  versions: [
    {
      version_id: "aaaaaaaa-1",
      n: 24,
      errors: 1,
      metrics: {
        accuracy: { value: 0.5, ci_low: 0.3, ci_high: 0.7 },
        rouge1: { value: 0.0612, ci_low: 0.02, ci_high: 0.1 },
      },
      latency_ms: { p50: 412.4, p95: 988.6 },
      tokens_in: 1200,
      tokens_out: 300,
      cost_usd: 0,
    },
    {
      version_id: "bbbbbbbb-2",
      n: 24,
      errors: 0,
      metrics: {
        accuracy: { value: 0.75, ci_low: 0.55, ci_high: 0.9 },
        rouge1: { value: 0.16, ci_low: 0.1, ci_high: 0.22 },
      },
      latency_ms: { p50: 300, p95: 700 },
      tokens_in: 1500,
      tokens_out: 280,
      cost_usd: 0.0012345,
    },
  ],
  comparisons: [
    {
      baseline: "aaaaaaaa-1",
      candidate: "bbbbbbbb-2",
      n_paired: 24,
      metrics: {
        accuracy: { diff: 0.25, ci_low: 0.05, ci_high: 0.45, p_value: 0.0312, test: "mcnemar" },
        rouge1: {
          diff: 0.0988,
          ci_low: 0.04,
          ci_high: 0.15,
          p_value: 0.0002,
          test: "paired_bootstrap",
        },
        latency_ms: {
          diff: -112.4,
          ci_low: -200,
          ci_high: -20,
          p_value: 0.01,
          test: "paired_bootstrap",
        },
      },
    },
  ],
};

describe("the comparison table, as `promptops eval show` prints it", () => {
  it("formats intervals, differences and p-values like the CLI", () => {
    expect(formatInterval({ value: 0.0612, ci_low: 0.02, ci_high: 0.1 })).toBe(
      "0.061 [0.020, 0.100]",
    );
    expect(formatDiff({ diff: -0.1, ci_low: -0.2, ci_high: 0.05, p_value: 0.2, test: "mcnemar" })).toBe(
      "-0.100 [-0.200, +0.050]",
    );
    expect(formatP(0.0002)).toBe("<0.001");
    expect(formatP(0.0312)).toBe("0.031");
    expect(formatP(null)).toBe("—");
    expect(formatInterval(undefined)).toBe("—");
  });

  it("has a row per score metric, then examples, latency, tokens and cost", () => {
    const rows = comparisonRows(summary, ["accuracy", "rouge1", "latency_ms", "cost_usd"], registry);
    expect(rows.map((r) => r.label)).toEqual([
      "accuracy",
      "rouge1",
      "examples (errors)",
      "latency p50 / p95 ms",
      "tokens in / out",
      "cost USD",
    ]);
    const [accuracy, rouge, examples, latency, tokens, cost] = rows;
    expect(accuracy.values).toEqual(["0.500 [0.300, 0.700]", "0.750 [0.550, 0.900]"]);
    expect(accuracy.diffs[0]).toEqual({
      text: "+0.250 [+0.050, +0.450]",
      p: "0.031",
      test: "McNemar (exact)",
      verdict: "better",
    });
    expect(rouge.diffs[0]?.test).toBe("paired bootstrap");
    expect(rouge.diffs[0]?.p).toBe("<0.001");
    expect(examples.values).toEqual(["24 (1)", "24 (0)"]);
    expect(latency.values).toEqual(["412 / 989", "300 / 700"]);
    // Lower latency is better: a significant drop is "better".
    expect(latency.diffs[0]).toMatchObject({ text: "-112 ms (mean)", verdict: "better" });
    expect(tokens.values).toEqual(["1200 / 300", "1500 / 280"]);
    expect(cost.values).toEqual(["0.000000", "0.001234"]);
    expect(cost.diffs).toEqual([null]);
  });

  it("calls a difference better or worse only when p < 0.05", () => {
    const d = { diff: -0.2, ci_low: -0.3, ci_high: -0.1, p_value: 0.01, test: "paired_bootstrap" as const };
    expect(verdict(d, true)).toBe("worse");
    expect(verdict({ ...d, p_value: 0.2 }, true)).toBeNull();
  });

  it("names versions by prompt and number", () => {
    const names = [{ id: "aaaaaaaa-1", prompt_name: "capital", version: 3 }];
    expect(versionLabel("aaaaaaaa-1", names)).toBe("capital v3");
    expect(versionLabel("cccccccc-9999", names)).toBe("cccccccc");
  });
});
