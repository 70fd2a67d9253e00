import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { formatCost } from "./RunOutput";

/** How many runs the playground lists. */
export const RECENT_RUNS = 50;

export interface RunsScope {
  projectId: string;
  /** A prompt's runs (any version); without it, the project's free-text runs. */
  promptId: string | null;
}

export function runsQueryKey(scope: RunsScope) {
  return ["runs", scope.projectId, scope.promptId ?? "free-text"] as const;
}

/** The last 50 runs of the prompt (or of the project's free-text calls), newest first, each
 * linking to its details. Refreshed by the page after every run (query invalidation). */
export function RecentRuns({ scope }: { scope: RunsScope }) {
  const runs = useQuery({
    queryKey: runsQueryKey(scope),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/runs", {
          params: {
            query: scope.promptId
              ? { project_id: scope.projectId, prompt_id: scope.promptId, limit: RECENT_RUNS }
              : { project_id: scope.projectId, source: "openai", limit: RECENT_RUNS },
          },
        }),
      ),
  });
  const title = scope.promptId ? "Last runs of this prompt" : "Last free-text runs";
  return (
    <section aria-labelledby="recent-runs" className="recent-runs">
      <h2 id="recent-runs">{title}</h2>
      <ProblemBanner error={runs.error} />
      {runs.isPending ? (
        <Loading what="Loading runs" />
      ) : runs.data && runs.data.count === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : runs.data ? (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">
              {title}, newest first (at most {RECENT_RUNS})
            </caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">When</th>
                <th scope="col">Version</th>
                <th scope="col">Source</th>
                <th scope="col">Model</th>
                <th scope="col">Result</th>
                <th scope="col" className="num">
                  Tokens in / out
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col" className="num">
                  Latency
                </th>
                <th scope="col">Output</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.data.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={`/playground/runs/${run.id}`} className="mono">
                      {run.id.slice(0, 8)}
                    </Link>
                  </td>
                  <td>{new Date(run.created_at).toLocaleString()}</td>
                  <td>{run.prompt_version === null ? "free text" : `v${run.prompt_version}`}</td>
                  <td>{run.source}</td>
                  <td>{run.model}</td>
                  <td>
                    {run.success ? (
                      <span className="ok">{run.cache_hit ? "OK (cache)" : "OK"}</span>
                    ) : (
                      <span className="error" title={run.error ?? undefined}>
                        Failed
                      </span>
                    )}
                  </td>
                  <td className="num">
                    {run.tokens_in} / {run.tokens_out}
                  </td>
                  <td className="num">{formatCost(run.cost_usd)}</td>
                  <td className="num">{Math.round(run.latency_ms)} ms</td>
                  <td className="excerpt">{run.success ? run.output_excerpt : run.error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
