import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { TemporalLink } from "../../components/TemporalLink";
import { formatCost } from "./RunOutput";
import "./playground.css";

interface InputMessage {
  role?: string;
  content?: unknown;
}

function pretty(text: string | null): { json: boolean; text: string } {
  if (text === null) return { json: false, text: "" };
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object") {
      return { json: true, text: JSON.stringify(value, null, 2) };
    }
  } catch {
    // plain text
  }
  return { json: false, text };
}

function Row({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** One run (`GET /runs/{id}`): what went in (messages, variables), what came out, its
 * figures, routing, the deployments tried and the feedback it got. */
export function RunDetailPage() {
  const { runId = "" } = useParams();
  const run = useQuery({
    queryKey: ["run", runId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId } } })),
  });
  const data = run.data;
  const output = pretty(data?.output ?? null);
  const messages = (data?.rendered_input ?? []) as InputMessage[];
  const attempts = data?.attempts ?? [];
  return (
    <>
      <p>
        <Link to={data ? `/playground?project=${data.project_id}` : "/playground"}>
          Back to the playground
        </Link>
      </p>
      <h1>
        Run <span className="mono">{runId.slice(0, 8)}</span>
      </h1>
      <ProblemBanner error={run.error} />
      {run.isPending ? (
        <Loading what="Loading the run" />
      ) : data ? (
        <div className="run-detail">
          <section className="card" aria-labelledby="run-summary">
            <h2 id="run-summary">Summary</h2>
            <dl className="figures">
              <Row term="Result">
                {data.success ? <span className="ok">OK</span> : <span className="error">Failed</span>}
              </Row>
              <Row term="When">{new Date(data.created_at).toLocaleString()}</Row>
              <Row term="Source">{data.source}</Row>
              <Row term="Model">{data.model}</Row>
              <Row term="Tokens in / out">
                {data.tokens_in} / {data.tokens_out}
              </Row>
              <Row term="Cost">{formatCost(data.cost_usd)}</Row>
              <Row term="Latency">{Math.round(data.latency_ms)} ms</Row>
              <Row term="Cache">{data.cache_hit ? `hit (${data.cache_kind ?? "exact"})` : "miss"}</Row>
              {data.subject_id && <Row term="Subject">{data.subject_id}</Row>}
              {data.environment && <Row term="Environment">{data.environment}</Row>}
              {data.arm && <Row term="Arm">{data.arm}</Row>}
              {data.trace_id && (
                <Row term="Trace id">
                  <span className="mono">{data.trace_id}</span>
                </Row>
              )}
              <Row term="Run id">
                <span className="mono">{data.id}</span>
              </Row>
            </dl>
            {data.workflow_id && (
              <p>
                Made by workflow <span className="mono">{data.workflow_id}</span>:{" "}
                <TemporalLink workflowId={data.workflow_id} />
              </p>
            )}
          </section>

          <section className="card" aria-labelledby="run-input">
            <h2 id="run-input">Input messages</h2>
            {messages.length === 0 ? (
              <p className="muted">Not recorded.</p>
            ) : (
              <ol className="input-messages">
                {messages.map((m, i) => (
                  <li key={i}>
                    <span className="role">{m.role ?? "?"}</span>
                    <pre>{typeof m.content === "string" ? m.content : JSON.stringify(m.content, null, 2)}</pre>
                  </li>
                ))}
              </ol>
            )}
            {data.variables && Object.keys(data.variables).length > 0 && (
              <>
                <h3>Variables</h3>
                <pre className="json">{JSON.stringify(data.variables, null, 2)}</pre>
              </>
            )}
          </section>

          <section className="card" aria-labelledby="run-output">
            <h2 id="run-output">{output.json ? "Output (JSON)" : "Output"}</h2>
            {data.output === null || data.output === "" ? (
              <p className="muted">No output.</p>
            ) : (
              <pre className={output.json ? "json" : "answer"}>{output.text}</pre>
            )}
            {data.error && (
              <>
                <h3>Error</h3>
                <pre className="error-text">{data.error}</pre>
              </>
            )}
          </section>

          <section className="card" aria-labelledby="run-routing">
            <h2 id="run-routing">Routing</h2>
            {data.routing ? (
              <pre className="json">{JSON.stringify(data.routing, null, 2)}</pre>
            ) : (
              <p className="muted">No routing policy: the model was named directly.</p>
            )}
            <h3>Attempts</h3>
            {attempts.length === 0 ? (
              <p className="muted">None recorded.</p>
            ) : (
              <table>
                <caption className="visually-hidden">Deployments tried, in order</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Model</th>
                    <th scope="col">Status</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {attempts.map((a, i) => (
                    <tr key={i}>
                      <td>{i + 1}</td>
                      <td>{String(a.model ?? "")}</td>
                      <td>{a.status === undefined || a.status === null ? "ok" : String(a.status)}</td>
                      <td>{a.error ? String(a.error) : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card" aria-labelledby="run-feedback">
            <h2 id="run-feedback">Feedback</h2>
            {!data.feedback?.length ? (
              <p className="muted">No feedback yet.</p>
            ) : (
              <table>
                <caption className="visually-hidden">Feedback on this run</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Who</th>
                    <th scope="col">Thumbs</th>
                    <th scope="col">Score</th>
                    <th scope="col">Comment</th>
                  </tr>
                </thead>
                <tbody>
                  {data.feedback.map((f) => (
                    <tr key={f.id}>
                      <td>{new Date(f.created_at).toLocaleString()}</td>
                      <td>{f.actor}</td>
                      <td>{f.thumbs === null ? "" : f.thumbs ? "up" : "down"}</td>
                      <td>{f.score ?? ""}</td>
                      <td>{f.comment}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      ) : null}
    </>
  );
}
