import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { TemporalLink } from "../../components/TemporalLink";
import { ingestionFinished, type Ingestion } from "./queries";

const POLL_MS = 1000;

const TONES: Record<string, string> = {
  Listing: "info",
  Ingesting: "info",
  Finishing: "info",
  Completed: "good",
  Failed: "bad",
};

/** One ingestion's live progress, polled every second until it ends: documents done of
 * total, what happened to them, chunks written, near-duplicates dropped, per-document errors
 * and the workflow in the Temporal UI. `onFinished` runs once when it ends. */
export function IngestionProgressPanel({
  ingestionId,
  onFinished,
}: {
  ingestionId: string;
  onFinished?: (ingestion: Ingestion) => void;
}) {
  const ingestion = useQuery({
    queryKey: ["ingestion", ingestionId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/ingestions/{ingestion_id}", {
          params: { path: { ingestion_id: ingestionId } },
        }),
      ),
    refetchInterval: (query) =>
      query.state.data && ingestionFinished(query.state.data.status) ? false : POLL_MS,
  });
  const data = ingestion.data;
  const finished = data ? ingestionFinished(data.status) : false;
  // Called once per end of run (not on every poll), with the callback of the latest render.
  const onFinishedRef = useRef(onFinished);
  onFinishedRef.current = onFinished;
  const dataRef = useRef(data);
  dataRef.current = data;
  useEffect(() => {
    if (finished && dataRef.current) onFinishedRef.current?.(dataRef.current);
  }, [finished, ingestionId]);
  if (ingestion.isPending) return <Loading what="Loading the ingestion" />;
  if (!data) return <ProblemBanner error={ingestion.error} />;
  const total = data.documents_total;
  const done = data.documents_done;
  const errors = data.errors ?? [];
  const completed = data.status === "Completed";
  const percent = total > 0 ? Math.floor((100 * done) / total) : completed ? 100 : 0;
  const figures: [string, number][] = [
    ["Added", data.added],
    ["Replaced", data.replaced],
    ["Unchanged (skipped)", data.skipped],
    ["Removed", data.removed],
    ["Expired", data.expired],
    ["Chunks written", data.chunks_written],
    ["Near-duplicates dropped", data.duplicates],
  ];
  return (
    <section className="card wide progress-card" aria-labelledby="ingestion-heading">
      <div className="panel-head">
        <h2 id="ingestion-heading">Ingestion</h2>
        <span className={`badge badge-${TONES[data.status] ?? "warn"}`}>{data.status}</span>
        <TemporalLink workflowId={data.id} label="Workflow in the Temporal UI" />
      </div>
      <ProblemBanner error={ingestion.error} />
      <label htmlFor={`progress-${ingestionId}`} className="visually-hidden">
        Documents done
      </label>
      <progress
        id={`progress-${ingestionId}`}
        max={total || 1}
        value={total ? done : completed ? 1 : 0}
      />
      <p className="progress-text" role="status" aria-live="polite">
        {data.status}: {done} / {total || "?"} documents ({percent}%)
      </p>
      <dl className="facts figures">
        {figures.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
        {completed && (
          <div>
            <dt>Index now</dt>
            <dd>
              {data.documents_in_index} documents · {data.chunks_in_index} chunks
            </dd>
          </div>
        )}
        {data.embed_seconds > 0 && (
          <div>
            <dt>Embedding time</dt>
            <dd>{data.embed_seconds.toFixed(1)} s</dd>
          </div>
        )}
      </dl>
      {data.error && (
        <div role="alert" className="banner error">
          <strong>The ingestion failed.</strong> {data.error}
        </div>
      )}
      {errors.length > 0 && (
        <>
          <h3 className="errors-heading">
            {errors.length} document{errors.length === 1 ? "" : "s"} not ingested
          </h3>
          <ul className="doc-errors">
            {errors.map((e, i) => (
              <li key={i}>
                <code>{e.source}</code>: {e.message}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
