// A small SVG time-series chart (no chart library, nothing from a CDN): one or two lines over
// the dashboard's buckets, gaps where a bucket has no value (no runs), the value range on the
// left axis, the first and last bucket under it. Screen readers get a summary (role="img").

export interface Series {
  label: string;
  /** One value per bucket (null: no value in that bucket, drawn as a gap). */
  values: (number | null)[];
  /** CSS class of the line (colour): "line-a" or "line-b". */
  className?: string;
}

export interface ChartProps {
  title: string;
  /** Bucket starts (ISO 8601), one per value. */
  times: string[];
  series: Series[];
  format: (value: number) => string;
  /** Label of a time on the x axis. */
  formatTime?: (iso: string) => string;
  width?: number;
  height?: number;
}

const PAD = { left: 56, right: 8, top: 8, bottom: 22 };

/** The y range of the chart: from 0 (or the lowest value when negative) to the highest value,
 * or null without any value. */
export function valueRange(series: Series[]): [number, number] | null {
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null);
  if (all.length === 0) return null;
  const lo = Math.min(0, ...all);
  const hi = Math.max(...all);
  return [lo, hi === lo ? lo + 1 : hi];
}

/** The SVG path of ``values`` in a box of ``w`` x ``h`` (origin at the top left) for the y
 * range ``[lo, hi]``: one "M" per run of values, so a null breaks the line; a lone value is a
 * short tick so it stays visible. */
export function linePath(
  values: (number | null)[],
  [lo, hi]: [number, number],
  w: number,
  h: number,
): string {
  const n = values.length;
  const x = (i: number) => (n <= 1 ? w / 2 : (i * w) / (n - 1));
  const y = (v: number) => h - ((v - lo) / (hi - lo)) * h;
  const parts: string[] = [];
  let open = false;
  values.forEach((v, i) => {
    if (v === null) {
      open = false;
      return;
    }
    const point = `${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    const next = values[i + 1];
    if (!open && (next === undefined || next === null)) {
      parts.push(`M${(x(i) - 1.5).toFixed(1)},${y(v).toFixed(1)}h3`);
    } else {
      parts.push(`${open ? "L" : "M"}${point}`);
      open = true;
    }
  });
  return parts.join("");
}

function summary(props: ChartProps): string {
  const pieces = props.series.map((s) => {
    const defined = s.values.filter((v): v is number => v !== null);
    if (defined.length === 0) return `${s.label}: no data`;
    const last = [...s.values].reverse().find((v) => v !== null) as number;
    return (
      `${s.label}: from ${props.format(Math.min(...defined))} to ` +
      `${props.format(Math.max(...defined))}, latest ${props.format(last)}`
    );
  });
  return `${props.title} over ${props.times.length} buckets. ${pieces.join("; ")}.`;
}

export function TimeSeriesChart(props: ChartProps) {
  const { title, times, series, format, width = 360, height = 140 } = props;
  const formatTime = props.formatTime ?? ((t: string) => new Date(t).toLocaleString());
  const range = valueRange(series);
  const w = width - PAD.left - PAD.right;
  const h = height - PAD.top - PAD.bottom;
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{title}</span>
        {series.length > 1 && (
          <span className="chart-legend" aria-hidden="true">
            {series.map((s) => (
              <span key={s.label} className={`legend ${s.className ?? "line-a"}`}>
                {s.label}
              </span>
            ))}
          </span>
        )}
      </figcaption>
      <svg
        role="img"
        aria-label={summary(props)}
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        preserveAspectRatio="xMidYMid meet"
      >
        <g transform={`translate(${PAD.left},${PAD.top})`}>
          <line className="axis" x1={0} y1={h} x2={w} y2={h} />
          <line className="axis" x1={0} y1={0} x2={0} y2={h} />
          {range === null ? (
            <text className="chart-empty" x={w / 2} y={h / 2} textAnchor="middle">
              No runs in this window
            </text>
          ) : (
            <>
              <text className="tick" x={-6} y={4} textAnchor="end">
                {format(range[1])}
              </text>
              <text className="tick" x={-6} y={h} textAnchor="end">
                {format(range[0])}
              </text>
              {series.map((s) => (
                <path
                  key={s.label}
                  className={`line ${s.className ?? "line-a"}`}
                  d={linePath(s.values, range, w, h)}
                />
              ))}
            </>
          )}
          {times.length > 0 && (
            <>
              <text className="tick" x={0} y={h + 16} textAnchor="start">
                {formatTime(times[0])}
              </text>
              <text className="tick" x={w} y={h + 16} textAnchor="end">
                {formatTime(times[times.length - 1])}
              </text>
            </>
          )}
        </g>
      </svg>
    </figure>
  );
}
