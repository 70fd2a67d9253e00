import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { DataValue } from "../../components/DataValue";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { ProblemBanner } from "../../components/Problem";
import { saveText } from "./download";
import { versionLabel, type VersionName } from "./summary";

const PAGE = 20;

/** Per-example rows: input, expected, and each version's output with its scores; paged,
 * optionally only the examples where the versions disagree; CSV export of every row. */
export function ExampleRows({
  evaluationId,
  versionIds,
  versions,
  live,
}: {
  evaluationId: string;
  versionIds: string[];
  versions: VersionName[];
  live: boolean;
}) {
  const [offset, setOffset] = useState(0);
  const [disagreements, setDisagreements] = useState(false);
  const rows = useQuery({
    queryKey: ["eval-examples", evaluationId, offset, disagreements],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/evals/{evaluation_id}/examples", {
          params: {
            path: { evaluation_id: evaluationId },
            query: { offset, limit: PAGE, disagreements },
          },
        }),
      ),
    placeholderData: (previous) => previous,
    refetchInterval: live ? 3000 : false,
  });
  const exportCsv = useMutation({
    mutationFn: async () => {
      const text = unwrap(
        await api.GET("/api/v1/evals/{evaluation_id}/rows.csv", {
          params: { path: { evaluation_id: evaluationId } },
          parseAs: "text",
        }),
      ) as string;
      saveText(text, `${evaluationId}-rows.csv`, "text/csv;charset=utf-8");
    },
  });

  return (
    <section aria-labelledby="rows-heading">
      <div className="rows-toolbar">
        <h2 id="rows-heading">Per-example results</h2>
        <div className="checkbox">
          <input
            id="only-disagreements"
            type="checkbox"
            checked={disagreements}
            onChange={(e) => {
              setDisagreements(e.target.checked);
              setOffset(0);
            }}
          />
          <label htmlFor="only-disagreements">Only examples where the versions disagree</label>
        </div>
        <button
          type="button"
          className="secondary"
          onClick={() => exportCsv.mutate()}
          disabled={exportCsv.isPending}
        >
          {exportCsv.isPending ? "Exporting…" : "Export CSV"}
        </button>
      </div>
      <p className="hint">
        The CSV has every row (one line per example and version), not only this page.
      </p>
      <ProblemBanner error={exportCsv.error} />
      <ProblemBanner error={rows.error} />
      {rows.isPending ? (
        <Loading what="Loading per-example results" />
      ) : rows.data && rows.data.count === 0 ? (
        <p className="muted">
          {disagreements ? "The versions agree on every example." : "No results yet."}
        </p>
      ) : (
        rows.data && (
          <>
            <div className="table-wrap" tabIndex={0} role="region" aria-label="Per-example results (scrolls sideways)">
              <table className="example-rows">
                <caption className="visually-hidden">Per-example results</caption>
                <thead>
                  <tr>
                    <th scope="col">Example</th>
                    <th scope="col">Input</th>
                    <th scope="col">Expected</th>
                    {versionIds.map((id) => (
                      <th scope="col" key={id}>
                        {versionLabel(id, versions)}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.data.data.map((example) => (
                    <tr key={example.example_id}>
                      <th scope="row">
                        <code>{example.example_id}</code>
                      </th>
                      <td>
                        <DataValue value={example.input} max={200} />
                      </td>
                      <td>
                        <DataValue value={example.expected} max={200} />
                      </td>
                      {versionIds.map((id) => {
                        const run = example.runs.find((r) => r.prompt_version_id === id);
                        return (
                          <td key={id}>
                            {run ? (
                              <>
                                <DataValue value={run.output} max={200} />
                                {!run.success && <p className="error">Error: {run.error}</p>}
                                <ul className="scores">
                                  {Object.entries(run.metrics).map(([name, value]) => (
                                    <li key={name}>
                                      {name} <strong>{value.toFixed(3)}</strong>
                                    </li>
                                  ))}
                                  {run.predicted_label !== null && (
                                    <li>
                                      label <strong>{run.predicted_label}</strong>
                                    </li>
                                  )}
                                  <li>{Math.round(run.latency_ms)} ms</li>
                                </ul>
                              </>
                            ) : (
                              <span className="muted">not run yet</span>
                            )}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager
              offset={offset}
              limit={PAGE}
              count={rows.data.count}
              onChange={setOffset}
              label="Pages of per-example results"
            />
          </>
        )
      )}
    </section>
  );
}
