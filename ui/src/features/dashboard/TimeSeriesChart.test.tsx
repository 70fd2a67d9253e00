import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TimeSeriesChart, linePath, valueRange } from "./TimeSeriesChart";

// jsdom renders slowly on a loaded shared machine: a generous per-test limit.
const SLOW = 30_000;
const times = ["2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z", "2026-03-01T02:00:00Z"];

describe("valueRange", () => {
  it("runs from zero to the highest value, and is null without values", () => {
    expect(valueRange([{ label: "a", values: [3, null, 7] }])).toEqual([0, 7]);
    expect(valueRange([{ label: "a", values: [-2, 5] }])).toEqual([-2, 5]);
    expect(valueRange([{ label: "a", values: [0, 0] }])).toEqual([0, 1]);
    expect(valueRange([{ label: "a", values: [null, null] }])).toBeNull();
  });
});

describe("linePath", () => {
  it("maps values onto the box, the top being the highest value", () => {
    expect(linePath([0, 5, 10], [0, 10], 100, 50)).toBe("M0.0,50.0L50.0,25.0L100.0,0.0");
  });

  it("breaks the line at a bucket without a value and ticks a lone value", () => {
    const d = linePath([2, 4, null, 6, null], [0, 10], 100, 10);
    expect(d).toBe("M0.0,8.0L25.0,6.0M73.5,4.0h3");
    expect(d.match(/M/g)).toHaveLength(2);
  });
});

describe("TimeSeriesChart", () => {
  it("draws one path per series and summarises them for screen readers", () => {
    const { container } = render(
      <TimeSeriesChart
        title="Latency"
        times={times}
        format={(v) => `${v} ms`}
        formatTime={(t) => t.slice(11, 16)}
        series={[
          { label: "p50", values: [100, null, 300] },
          { label: "p95", values: [200, 250, 900], className: "line-b" },
        ]}
      />,
    );
    const img = screen.getByRole("img");
    expect(img).toHaveAccessibleName(
      "Latency over 3 buckets. p50: from 100 ms to 300 ms, latest 300 ms; " +
        "p95: from 200 ms to 900 ms, latest 900 ms.",
    );
    expect(container.querySelectorAll("path.line")).toHaveLength(2);
    expect(container.querySelector("path.line-b")).not.toBeNull();
    expect(screen.getByText("900 ms")).toBeInTheDocument(); // the top of the y axis
    expect(screen.getByText("00:00")).toBeInTheDocument();
    expect(screen.getByText("02:00")).toBeInTheDocument();
  }, SLOW);

  it("says when the window has no runs", () => {
    const { container } = render(
      <TimeSeriesChart
        title="Runs"
        times={times}
        format={String}
        series={[{ label: "Runs", values: [null, null, null] }]}
      />,
    );
    expect(screen.getByText("No runs in this window")).toBeInTheDocument();
    expect(container.querySelectorAll("path.line")).toHaveLength(0);
    expect(screen.getByRole("img")).toHaveAccessibleName(
      "Runs over 3 buckets. Runs: no data.",
    );
  }, SLOW);
});
