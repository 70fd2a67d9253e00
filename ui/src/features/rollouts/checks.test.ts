import { describe, expect, it } from "vitest";
import { METRICS, series, type ArmFigures, type Check, type Plan } from "./checks";

const plan: Plan = {
  steps: [10, 50, 100],
  bake_time_s: [60, 60],
  check_interval_s: 5,
  min_samples: 20,
  max_error_rate_increase: 0.02,
  max_p95_latency_ms: 1500,
  max_feedback_drop: 0.3,
  min_eval_score: 0.7,
};

function arm(name: string, extra: Partial<ArmFigures> = {}): ArmFigures {
  return { arm: name, n: 10, errors: 0, feedback_n: 0, outcome_n: 0, eval_n: 0, ...extra };
}

function check(index: number, step: number, baseline: Partial<ArmFigures>, canary: Partial<ArmFigures>): Check {
  return {
    check_index: index,
    step_index: step,
    canary_weight: [10, 50, 100][step],
    window_started_at: "2026-01-10T12:00:00Z",
    checked_at: new Date(Date.UTC(2026, 0, 10, 12, 0, index * 5)).toISOString(),
    baseline: arm("baseline", baseline),
    canary: arm("canary", canary),
  };
}

const metric = (key: string) => METRICS.find((m) => m.key === key)!;

describe("guard limits", () => {
  it("puts the error-rate ceiling the allowed increase above the baseline's rate", () => {
    const limit = metric("error_rate").limit(plan, arm("baseline", { error_rate: 0.1 }));
    expect(limit).toBeCloseTo(0.12);
    expect(metric("error_rate").limit(plan, arm("baseline"))).toBeNull();
  });

  it("puts the feedback and outcome floors the allowed drop below the baseline's mean", () => {
    const base = arm("baseline", { mean_feedback: 0.9, mean_outcome: 0.5 });
    expect(metric("mean_feedback").limit(plan, base)).toBeCloseTo(0.6);
    expect(metric("mean_outcome").limit(plan, base)).toBeCloseTo(0.2);
    const off = { ...plan, max_feedback_drop: null };
    expect(metric("mean_feedback").limit(off, base)).toBeNull();
    expect(metric("mean_feedback").guard(off)).toBe("not checked");
  });

  it("takes fixed limits from the plan and turns a zero sample minimum off", () => {
    expect(metric("p95_latency_ms").limit(plan, arm("baseline"))).toBe(1500);
    expect(metric("eval_score").limit(plan, arm("baseline"))).toBe(0.7);
    expect(metric("n").limit({ ...plan, min_samples: 0 }, arm("baseline"))).toBeNull();
    expect(metric("p95_latency_ms").guard({ ...plan, max_p95_latency_ms: null })).toBe("no limit");
  });
});

describe("series", () => {
  it("gives one point per check with both arms, the weight and the limit at that check", () => {
    const checks = [
      check(1, 0, { error_rate: 0 }, { error_rate: 0.05 }),
      check(2, 1, { error_rate: 0.1 }, {}),
    ];
    const points = series(checks, metric("error_rate"), plan);
    expect(points.map((p) => [p.check, p.step, p.weight, p.baseline, p.canary])).toEqual([
      [1, 0, 10, 0, 0.05],
      [2, 1, 50, 0.1, null],
    ]);
    expect(points[0].limit).toBeCloseTo(0.02);
    expect(points[1].limit).toBeCloseTo(0.12);
    expect(points[1].t - points[0].t).toBe(5000);
  });
});
