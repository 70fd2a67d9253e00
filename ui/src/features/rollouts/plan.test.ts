import { describe, expect, it } from "vitest";
import { DEFAULT_PLAN, toPlan } from "./plan";

describe("toPlan", () => {
  it("turns the default form into the API's default plan", () => {
    expect(toPlan(DEFAULT_PLAN)).toEqual({
      plan: {
        steps: [10, 50, 100],
        bake_time_s: 3600,
        min_samples: 20,
        max_error_rate_increase: 0.02,
        min_eval_score: 0.7,
      },
      errors: {},
    });
  });

  it("reads per-step bakes and optional guards, and an empty eval score as no gate", () => {
    const { plan, errors } = toPlan({
      ...DEFAULT_PLAN,
      steps: "25 50 100",
      bake: "20, 40",
      checkInterval: "5",
      maxP95LatencyMs: "1500",
      maxFeedbackDrop: "0.3",
      minEvalScore: "",
    });
    expect(errors).toEqual({});
    expect(plan).toMatchObject({
      steps: [25, 50, 100],
      bake_time_s: [20, 40],
      check_interval_s: 5,
      max_p95_latency_ms: 1500,
      max_feedback_drop: 0.3,
      min_eval_score: null,
    });
  });

  it("names the fields that are not numbers, as the API would", () => {
    const { errors } = toPlan({ ...DEFAULT_PLAN, steps: "ten", bake: "1.5", minSamples: "x" });
    expect(Object.keys(errors).sort()).toEqual([
      "plan.bake_time_s",
      "plan.min_samples",
      "plan.steps",
    ]);
  });
});
