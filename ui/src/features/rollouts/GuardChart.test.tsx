import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { METRICS, type Point } from "./checks";
import { GuardChart, describeLatest, domain } from "./GuardChart";

const errorRate = METRICS.find((m) => m.key === "error_rate")!;

function point(check: number, step: number, extra: Partial<Point> = {}): Point {
  return {
    t: Date.UTC(2026, 0, 10, 12, 0, check * 5),
    check,
    step,
    weight: [10, 50, 100][step],
    baseline: 0.01,
    canary: 0.02,
    limit: 0.03,
    ...extra,
  };
}

describe("domain", () => {
  it("starts at zero and leaves a tenth of headroom above the largest value", () => {
    const { lo, hi } = domain([point(1, 0), point(2, 0, { canary: 0.1 })]);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(0.11);
  });

  it("stops at a figure's largest possible value unless a value goes beyond it", () => {
    expect(domain([point(1, 0, { baseline: 1, canary: 0.5, limit: null })], 1)).toEqual({
      lo: 0,
      hi: 1,
    });
    expect(domain([point(1, 0, { baseline: 1, canary: 0.5, limit: 1.2 })], 1).hi).toBeCloseTo(1.32);
  });

  it("takes negative values and a flat or empty series", () => {
    expect(domain([point(1, 0, { baseline: -1, canary: 1, limit: null })]).lo).toBe(-1);
    expect(domain([point(1, 0, { baseline: 0, canary: 0, limit: 0 })])).toEqual({ lo: 0, hi: 1 });
    expect(domain([])).toEqual({ lo: 0, hi: 1 });
  });
});

describe("describeLatest", () => {
  it("reads the last check's figures and limit", () => {
    expect(describeLatest([point(1, 0), point(2, 1, { canary: null })], errorRate)).toBe(
      "Latest, check 2 at 50% canary: canary no value, baseline 1.0%, limit 3.0%.",
    );
    expect(describeLatest([], errorRate)).toBe("No checks yet.");
  });
});

describe("GuardChart", () => {
  it("draws both arms, the limit and where a new step began, described for screen readers", () => {
    const { container } = render(
      <GuardChart
        metric={errorRate}
        guard="canary at most 2.0% above the baseline"
        points={[point(1, 0), point(2, 0), point(3, 1, { canary: 0.04 })]}
      />,
    );
    const chart = screen.getByRole("img", { name: /Error rate/ });
    expect(chart).toHaveAccessibleDescription(/check 3 at 50% canary: canary 4.0%/);
    expect(container.querySelectorAll("path.series-baseline")).toHaveLength(1);
    expect(container.querySelectorAll("path.series-canary")).toHaveLength(1);
    expect(container.querySelectorAll("path.series-limit")).toHaveLength(1);
    expect(container.querySelectorAll("circle.marker-canary")).toHaveLength(3);
    expect(container.querySelectorAll("line.step")).toHaveLength(1);
  });

  it("breaks a line where a check has no value", () => {
    const { container } = render(
      <GuardChart
        metric={errorRate}
        guard=""
        points={[point(1, 0), point(2, 0, { canary: null }), point(3, 0)]}
      />,
    );
    expect(container.querySelectorAll("path.series-canary")).toHaveLength(2);
  });

  it("says so when no check has figures yet", () => {
    render(
      <GuardChart
        metric={errorRate}
        guard=""
        points={[point(1, 0, { baseline: null, canary: null })]}
      />,
    );
    expect(screen.getByText("No figures yet.")).toBeInTheDocument();
    expect(screen.queryByRole("img")).toBeNull();
  });
});
