import { describe, expect, it } from "vitest";
import { goldenFigures } from "./golden";

const summary = {
  versions: [
    { version_id: "other", n: 3, metrics: { accuracy: { value: 0.1 } } },
    {
      version_id: "v",
      n: 24,
      errors: 1,
      metrics: {
        bleu: { value: 0.3, ci_low: 0.2, ci_high: 0.4 },
        token_f1: { value: 0.81, ci_low: 0.74, ci_high: 0.88 },
        broken: { value: "x" },
      },
      latency_ms: { p50: 120, p95: 480.5 },
      cost_usd: 0.0012,
    },
  ],
  comparisons: [],
};

describe("goldenFigures", () => {
  it("reads the version's metrics with intervals, the policy's metric first", () => {
    const figures = goldenFigures(summary, "v", "token_f1");
    expect(figures).toEqual({
      n: 24,
      errors: 1,
      p50: 120,
      p95: 480.5,
      costUsd: 0.0012,
      metrics: [
        { name: "token_f1", value: 0.81, low: 0.74, high: 0.88 },
        { name: "bleu", value: 0.3, low: 0.2, high: 0.4 },
      ],
    });
  });

  it("has nothing for a missing summary or version", () => {
    expect(goldenFigures(null, "v")).toBeNull();
    expect(goldenFigures({ versions: "no" }, "v")).toBeNull();
    expect(goldenFigures(summary, "absent")).toBeNull();
  });
});
