import { comparisonRows, versionLabel, type MetricInfo, type Summary, type VersionName } from "./summary";

/** Each metric per version with its 95% interval, and per candidate the paired difference
 * from the baseline with its interval, p-value and test; then latency, tokens and cost. */
export function ComparisonTable({
  summary,
  metrics,
  registry,
  versions,
}: {
  summary: Summary;
  metrics: string[];
  registry: Record<string, MetricInfo>;
  versions: VersionName[];
}) {
  const rows = comparisonRows(summary, metrics, registry);
  const names = (summary.versions ?? []).map((v) => versionLabel(v.version_id, versions));
  const comparisons = summary.comparisons ?? [];
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Comparison (scrolls sideways)">
      <table className="comparison">
        <caption>
          Comparison: value [95% bootstrap interval] per version
          {comparisons.length > 0 && "; Δ = candidate − baseline, paired on the same examples"}
        </caption>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            {names.map((name, i) => (
              <th scope="col" key={`v${i}`} className="num">
                {name}
                {i === 0 && comparisons.length > 0 && <span className="muted"> (baseline)</span>}
              </th>
            ))}
            {comparisons.map((c, i) => {
              const candidate = versionLabel(c.candidate, versions);
              const suffix = comparisons.length > 1 ? ` (${candidate})` : "";
              return [
                <th scope="col" key={`d${i}`} className="num delta-head">
                  Δ {candidate} − {versionLabel(c.baseline, versions)}
                  <span className="muted"> [95% CI], {c.n_paired} paired</span>
                </th>,
                <th scope="col" key={`p${i}`} className="num">
                  p-value{suffix}
                </th>,
                <th scope="col" key={`t${i}`}>
                  test{suffix}
                </th>,
              ];
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label} className={row.kind === "figure" ? "figure-row" : undefined}>
              <th scope="row" title={registry[row.label]?.description}>
                {row.label}
              </th>
              {row.values.map((value, i) => (
                <td key={i} className="num">
                  {value}
                </td>
              ))}
              {row.diffs.map((d, i) =>
                d ? (
                  [
                    <td key={`d${i}`} className="num">
                      {d.text}
                      {d.verdict && (
                        <span className={`verdict verdict-${d.verdict}`}>{d.verdict}</span>
                      )}
                    </td>,
                    <td key={`p${i}`} className="num">
                      {d.p}
                    </td>,
                    <td key={`t${i}`}>{d.test}</td>,
                  ]
                ) : (
                  <td key={`n${i}`} colSpan={3} />
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
