import { useMutation, useQueries, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { Loading } from "../../components/Loading";
import { useDatasets } from "../datasets/queries";
import { useMetricRegistry } from "./metrics";

const DEFAULT_METRICS = ["token_f1", "latency_ms", "cost_usd"];

/** Start an evaluation: versions of the project's prompts, a dataset, metrics from the
 * registry, concurrency, the positive label and an optional limit. The first version
 * chosen is the baseline the others are compared with. */
export function NewEvaluationForm({
  projectId,
  initialDataset,
}: {
  projectId: string;
  initialDataset?: string;
}) {
  const navigate = useNavigate();
  const registry = useMetricRegistry();
  const prompts = useQuery({
    queryKey: ["prompts", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/prompts", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
  const versionLists = useQueries({
    queries: (prompts.data?.data ?? []).map((p) => ({
      queryKey: ["versions", p.id],
      queryFn: async () =>
        unwrap(
          await api.GET("/api/v1/prompts/{prompt_id}/versions", {
            params: { path: { prompt_id: p.id } },
          }),
        ),
    })),
  });
  const datasets = useDatasets(projectId);

  const [chosen, setChosen] = useState<string[]>([]);
  const [datasetId, setDatasetId] = useState(initialDataset ?? "");
  const [metrics, setMetrics] = useState<string[]>(DEFAULT_METRICS);
  const [concurrency, setConcurrency] = useState("4");
  const [positiveLabel, setPositiveLabel] = useState("");
  const [limit, setLimit] = useState("");

  // Versions in the order the form lists them (prompt, then version number): the first
  // chosen is the baseline.
  const ordered = (prompts.data?.data ?? []).flatMap((p, i) =>
    [...(versionLists[i]?.data?.data ?? [])]
      .sort((a, b) => a.version - b.version)
      .map((v) => ({ ...v, promptName: p.name })),
  );
  const selected = ordered.filter((v) => chosen.includes(v.id));

  const start = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/evals/run", {
          body: {
            prompt_version_ids: selected.map((v) => v.id),
            dataset_id: datasetId,
            metrics,
            concurrency: Number(concurrency),
            chunk_size: 0,
            positive_label: positiveLabel.trim() === "" ? null : positiveLabel,
            limit: limit.trim() === "" ? null : Number(limit),
          },
        }),
      ),
    onSuccess: (started) => navigate(`/evaluations/${encodeURIComponent(started.id)}`),
  });

  function toggle(list: string[], value: string, on: boolean): string[] {
    return on ? [...list, value] : list.filter((x) => x !== value);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    start.mutate();
  }

  if (prompts.isPending || datasets.isPending || registry.isPending) {
    return <Loading what="Loading prompts, datasets and metrics" />;
  }
  const error = start.error;
  return (
    <form onSubmit={submit} className="card new-eval" aria-labelledby="new-eval">
      <h2 id="new-eval">New evaluation</h2>
      <ProblemBanner error={prompts.error ?? datasets.error ?? registry.error ?? error} />

      <fieldset aria-describedby="versions-hint versions-error">
        <legend>Prompt versions</legend>
        <p id="versions-hint" className="hint">
          Choose up to 10. The first one chosen
          {selected[0] ? ` (${selected[0].promptName} v${selected[0].version})` : ""} is the
          baseline the others are compared with. Each version answers with the model set on
          it (else the project's routing).
        </p>
        {ordered.length === 0 && <p className="muted">This project has no prompt versions.</p>}
        {(prompts.data?.data ?? []).map((p, i) => {
          const list = [...(versionLists[i]?.data?.data ?? [])].sort(
            (a, b) => a.version - b.version,
          );
          if (list.length === 0) return null;
          return (
            <div key={p.id} className="version-group" role="group" aria-label={p.name}>
              <p className="group-name">{p.name}</p>
              {list.map((v) => (
                <div className="checkbox" key={v.id}>
                  <input
                    id={`version-${v.id}`}
                    type="checkbox"
                    checked={chosen.includes(v.id)}
                    onChange={(e) => setChosen(toggle(chosen, v.id, e.target.checked))}
                  />
                  <label htmlFor={`version-${v.id}`}>
                    {p.name} v{v.version}
                    <span className="muted">
                      {" "}
                      · {v.status}
                      {v.model ? ` · ${v.model}` : ""}
                      {v.notes ? ` · ${v.notes}` : ""}
                    </span>
                  </label>
                </div>
              ))}
            </div>
          );
        })}
        <FieldError error={error} field="prompt_version_ids" id="versions-error" />
      </fieldset>

      <label htmlFor="eval-dataset">Dataset</label>
      <select
        id="eval-dataset"
        value={datasetId}
        onChange={(e) => setDatasetId(e.target.value)}
        aria-invalid={fieldInvalid(error, "dataset_id")}
        aria-describedby="eval-dataset-error"
        required
      >
        <option value="">Choose a dataset</option>
        {(datasets.data?.data ?? []).map((d) => (
          <option key={d.id} value={d.id}>
            {d.name} ({d.example_count} examples)
          </option>
        ))}
      </select>
      <FieldError error={error} field="dataset_id" id="eval-dataset-error" />

      <fieldset aria-describedby="metrics-hint metrics-error">
        <legend>Metrics</legend>
        <p id="metrics-hint" className="hint">
          Scores against each example's expected answer. The API has no LLM-as-judge metric
          yet, so there is no judge model to choose.
        </p>
        <div className="metric-grid">
          {(registry.data?.list ?? []).map((m) => (
            <div className="checkbox" key={m.name}>
              <input
                id={`metric-${m.name}`}
                type="checkbox"
                checked={metrics.includes(m.name)}
                onChange={(e) => setMetrics(toggle(metrics, m.name, e.target.checked))}
                aria-describedby={`metric-${m.name}-hint`}
              />
              <div>
                <label htmlFor={`metric-${m.name}`}>{m.name}</label>
                <span id={`metric-${m.name}-hint`} className="hint metric-hint">
                  {m.description}
                </span>
              </div>
            </div>
          ))}
        </div>
        <FieldError error={error} field="metrics" id="metrics-error" />
      </fieldset>

      <div className="row-fields">
        <div>
          <label htmlFor="eval-concurrency">Concurrency</label>
          <input
            id="eval-concurrency"
            type="number"
            min={1}
            max={256}
            value={concurrency}
            onChange={(e) => setConcurrency(e.target.value)}
            aria-invalid={fieldInvalid(error, "concurrency")}
            aria-describedby="eval-concurrency-hint eval-concurrency-error"
            required
          />
          <p id="eval-concurrency-hint" className="hint">
            model calls at once, per chunk
          </p>
          <FieldError error={error} field="concurrency" id="eval-concurrency-error" />
        </div>
        <div>
          <label htmlFor="eval-positive">Positive label</label>
          <input
            id="eval-positive"
            value={positiveLabel}
            onChange={(e) => setPositiveLabel(e.target.value)}
            aria-invalid={fieldInvalid(error, "positive_label")}
            aria-describedby="eval-positive-hint eval-positive-error"
          />
          <p id="eval-positive-hint" className="hint">
            for precision/recall/F1 of a binary task, e.g. spam; empty: macro average
          </p>
          <FieldError error={error} field="positive_label" id="eval-positive-error" />
        </div>
        <div>
          <label htmlFor="eval-limit">Only the first N examples</label>
          <input
            id="eval-limit"
            type="number"
            min={1}
            value={limit}
            onChange={(e) => setLimit(e.target.value)}
            aria-invalid={fieldInvalid(error, "limit")}
            aria-describedby="eval-limit-hint eval-limit-error"
          />
          <p id="eval-limit-hint" className="hint">
            empty: all of them
          </p>
          <FieldError error={error} field="limit" id="eval-limit-error" />
        </div>
      </div>
      <button type="submit" disabled={start.isPending}>
        {start.isPending ? "Starting…" : "Start evaluation"}
      </button>
    </form>
  );
}
