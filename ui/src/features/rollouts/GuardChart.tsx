// A small line chart of one guard figure over a rollout's checks: baseline and canary (told
// apart by line style and marker shape as well as colour), the guard's limit, and where each
// step began. Inline SVG, no library; described for screen readers, with the same figures in
// the page's table of checks.
import { useId } from "react";
import type { Metric, Point } from "./checks";

const W = 360;
const H = 170;
const M = { left: 56, right: 12, top: 12, bottom: 30 };

type Key = "baseline" | "canary" | "limit";

/** Runs of consecutive points that have a value (a gap breaks the line). */
function segments(points: Point[], key: Key): Point[][] {
  const out: Point[][] = [];
  let run: Point[] = [];
  for (const p of points) {
    if (p[key] == null) {
      if (run.length) out.push(run);
      run = [];
    } else run.push(p);
  }
  if (run.length) out.push(run);
  return out;
}

/** The value axis: from 0 (or the lowest value) to a tenth above the highest, but no further
 * than ``max`` (a rate or score cannot exceed 1) unless a value does. */
export function domain(points: Point[], max?: number): { lo: number; hi: number } {
  const values = points.flatMap((p) =>
    [p.baseline, p.canary, p.limit].filter((v): v is number => v != null && Number.isFinite(v)),
  );
  if (values.length === 0) return { lo: 0, hi: 1 };
  const lo = Math.min(0, ...values);
  const top = Math.max(...values);
  const hi = top === lo ? lo + 1 : top + (top - lo) * 0.1;
  return { lo, hi: max != null && top <= max ? Math.min(hi, max) : hi };
}

/** A sentence with the latest figures, for the chart's description. */
export function describeLatest(points: Point[], metric: Metric): string {
  const last = points[points.length - 1];
  if (!last) return "No checks yet.";
  const fmt = (v: number | null) => (v == null ? "no value" : metric.format(v));
  const limit = last.limit == null ? "" : `, limit ${metric.format(last.limit)}`;
  return (
    `Latest, check ${last.check} at ${last.weight}% canary: ` +
    `canary ${fmt(last.canary)}, baseline ${fmt(last.baseline)}${limit}.`
  );
}

export function GuardChart({
  metric,
  points,
  guard,
  live = true,
}: {
  metric: Metric;
  points: Point[];
  guard: string;
  /** Whether checks may still come (an ended rollout's empty chart says "No figures."). */
  live?: boolean;
}) {
  const id = useId();
  const hasData = points.some((p) => p.baseline != null || p.canary != null);
  const t0 = points.length ? points[0].t : 0;
  const t1 = points.length ? points[points.length - 1].t : 1;
  const span = t1 - t0 || 1000;
  const { lo, hi } = domain(points, metric.max);
  const x = (t: number) => M.left + ((t - t0) / span) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - ((v - lo) / (hi - lo)) * (H - M.top - M.bottom);
  const path = (run: Point[], key: Key) =>
    run.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p[key]!).toFixed(1)}`).join("");
  const stepStarts = points.filter((p, i) => i > 0 && p.step !== points[i - 1].step);
  const time = (t: number) => new Date(t).toLocaleTimeString();

  return (
    <figure className="guard-chart">
      <figcaption id={`${id}-title`}>
        <strong>{metric.title}</strong> <span className="muted small">({guard})</span>
      </figcaption>
      {!hasData ? (
        <p className="muted chart-empty">{live ? "No figures yet." : "No figures."}</p>
      ) : (
        <svg
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          aria-labelledby={`${id}-title`}
          aria-describedby={`${id}-desc`}
        >
          <desc id={`${id}-desc`}>{describeLatest(points, metric)}</desc>
          <line className="axis" x1={M.left} x2={W - M.right} y1={y(lo)} y2={y(lo)} />
          <line className="axis" x1={M.left} x2={M.left} y1={M.top} y2={H - M.bottom} />
          {[lo, (lo + hi) / 2, hi].map((v) => (
            <g key={v}>
              <line className="grid" x1={M.left} x2={W - M.right} y1={y(v)} y2={y(v)} />
              <text className="tick" x={M.left - 4} y={y(v) + 4} textAnchor="end">
                {metric.format(v)}
              </text>
            </g>
          ))}
          <text className="tick" x={M.left} y={H - 8}>
            {time(t0)}
          </text>
          <text className="tick" x={W - M.right} y={H - 8} textAnchor="end">
            {time(t1)}
          </text>
          {stepStarts.map((p) => (
            <g key={`step-${p.check}`}>
              <line className="step" x1={x(p.t)} x2={x(p.t)} y1={M.top} y2={H - M.bottom} />
              <text className="tick" x={x(p.t) + 3} y={M.top + 10}>
                {p.weight}%
              </text>
            </g>
          ))}
          {segments(points, "limit").map((run, i) => (
            <path key={`l${i}`} className="series-limit" d={path(run, "limit")} />
          ))}
          {segments(points, "baseline").map((run, i) => (
            <path key={`b${i}`} className="series-baseline" d={path(run, "baseline")} />
          ))}
          {segments(points, "canary").map((run, i) => (
            <path key={`c${i}`} className="series-canary" d={path(run, "canary")} />
          ))}
          {points.map((p) =>
            p.baseline == null ? null : (
              <rect
                key={`bm${p.check}`}
                className="marker-baseline"
                x={x(p.t) - 2.5}
                y={y(p.baseline) - 2.5}
                width={5}
                height={5}
              />
            ),
          )}
          {points.map((p) =>
            p.canary == null ? null : (
              <circle
                key={`cm${p.check}`}
                className="marker-canary"
                cx={x(p.t)}
                cy={y(p.canary)}
                r={3}
              />
            ),
          )}
        </svg>
      )}
    </figure>
  );
}

/** The legend the charts share (HTML, so it reads and zooms as text). */
export function ChartLegend() {
  return (
    <ul className="chart-legend" aria-label="Chart legend">
      <li>
        <svg width="28" height="10" aria-hidden="true">
          <line className="series-baseline" x1="0" x2="28" y1="5" y2="5" />
          <rect className="marker-baseline" x="11.5" y="2.5" width="5" height="5" />
        </svg>
        Baseline (solid line, squares)
      </li>
      <li>
        <svg width="28" height="10" aria-hidden="true">
          <line className="series-canary" x1="0" x2="28" y1="5" y2="5" />
          <circle className="marker-canary" cx="14" cy="5" r="3" />
        </svg>
        Canary (dashed line, circles)
      </li>
      <li>
        <svg width="28" height="10" aria-hidden="true">
          <line className="series-limit" x1="0" x2="28" y1="5" y2="5" />
        </svg>
        Guard limit (dotted)
      </li>
      <li>
        <svg width="28" height="10" aria-hidden="true">
          <line className="step" x1="14" x2="14" y1="0" y2="10" />
        </svg>
        A new step (its canary weight)
      </li>
    </ul>
  );
}
