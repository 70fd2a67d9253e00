import { versionLabel, type VersionName } from "./summary";

interface VersionProgress {
  version_id?: string;
  done?: number;
  errors?: number;
  means?: Record<string, number | null>;
}

/** Live progress of a running evaluation: examples done of total (over all versions), the
 * errors so far and each version's running means. */
export function ProgressPanel({
  done,
  total,
  perVersion,
  versions,
}: {
  done: number;
  total: number;
  perVersion: VersionProgress[];
  versions: VersionName[];
}) {
  const errors = perVersion.reduce((sum, v) => sum + (v.errors ?? 0), 0);
  const percent = total > 0 ? Math.floor((100 * done) / total) : 0;
  return (
    <section className="card progress-card" aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <label htmlFor="eval-progress" className="visually-hidden">
        Examples done
      </label>
      <progress id="eval-progress" max={total || 1} value={done} />
      <p className="progress-text" role="status" aria-live="polite">
        {done} / {total || "?"} examples ({percent}%) · {errors} error{errors === 1 ? "" : "s"}
      </p>
      {perVersion.length > 0 && (
        <table>
          <caption className="visually-hidden">Progress per version</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col" className="num">
                Done
              </th>
              <th scope="col" className="num">
                Errors
              </th>
              <th scope="col">Running means</th>
            </tr>
          </thead>
          <tbody>
            {perVersion.map((v, i) => (
              <tr key={v.version_id ?? i}>
                <td>{versionLabel(v.version_id ?? "", versions)}</td>
                <td className="num">{v.done ?? 0}</td>
                <td className="num">{v.errors ?? 0}</td>
                <td>
                  {Object.entries(v.means ?? {})
                    .filter(([, m]) => m !== null)
                    .map(([name, m]) => `${name} ${(m as number).toFixed(3)}`)
                    .join(" · ") || "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
