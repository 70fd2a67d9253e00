import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { isProblem, unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { FiltersEditor, toFilters, type FilterRow } from "./FiltersEditor";
import { ModeColumns, type ModeAnswer } from "./ModeColumns";
import { MODES, useIndexes, type Index, type Mode } from "./queries";
import "./retrieval.css";

interface Search {
  indexId: string;
  answers: Partial<Record<Mode, ModeAnswer>>;
}

/** The error to show on the form: a refusal of the request's fields (the same in every
 * mode), not one mode's failure. */
function formError(answers: Partial<Record<Mode, ModeAnswer>>): unknown {
  const errors = MODES.map((m) => answers[m]?.error).filter((e) => e !== undefined);
  return errors.find((e) => isProblem(e) && e.status === 422 && Object.keys(e.fields).length);
}

/** Search one index in all three modes at once and compare the hits side by side. */
export function QueryPage() {
  const [params, setParams] = useSearchParams();
  const indexes = useIndexes();
  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
  const list = indexes.data?.data ?? [];
  const indexId = params.get("index") ?? list[0]?.id ?? "";
  const index: Index | undefined = list.find((i) => i.id === indexId);
  const [query, setQuery] = useState("");
  const [topK, setTopK] = useState("10");
  const [filters, setFilters] = useState<FilterRow[]>([]);
  const [mmr, setMmr] = useState("");
  const [rerank, setRerank] = useState(false);
  const projectId = index?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);

  const search = useMutation({
    mutationFn: async (): Promise<Search> => {
      const body = {
        index_id: indexId,
        query,
        top_k: Number(topK),
        filters: toFilters(filters, index?.metadata_schema ?? {}),
        mmr_lambda: mmr.trim() === "" ? null : Number(mmr),
        rerank,
      };
      const answers = await Promise.all(
        MODES.map(async (mode): Promise<[Mode, ModeAnswer]> => {
          const started = performance.now();
          try {
            const result = unwrap(
              await api.POST("/api/v1/retrieval/query", { body: { ...body, mode } }),
            );
            return [mode, { result, roundTripMs: performance.now() - started }];
          } catch (error) {
            return [mode, { error }];
          }
        }),
      );
      return { indexId, answers: Object.fromEntries(answers) };
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    search.mutate();
  }
  const answers = search.data?.answers ?? {};
  const error = formError(answers);
  const names = new Map(projects.data?.data.map((p) => [p.id, p.name]));
  const byProject = new Map<string, Index[]>();
  for (const i of list) byProject.set(i.project_id, [...(byProject.get(i.project_id) ?? []), i]);

  if (indexes.isPending) return <Loading what="Loading indexes" />;
  return (
    <>
      <h1>Query an index</h1>
      <ProblemBanner error={indexes.error} />
      {list.length === 0 && !indexes.error ? (
        <p className="muted">No indexes yet: create one on a project's Retrieval page.</p>
      ) : (
        <form className="card wide query-form" onSubmit={submit} aria-label="Query settings">
          <label htmlFor="query-index">Index</label>
          <select
            id="query-index"
            value={indexId}
            onChange={(e) => {
              setFilters([]);
              setParams({ index: e.target.value }, { replace: true });
            }}
          >
            {[...byProject].map(([pid, items]) => (
              <optgroup key={pid} label={names.get(pid) ?? "Project"}>
                {items.map((i) => (
                  <option key={i.id} value={i.id}>
                    {i.name} ({i.documents} documents)
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
          {index && (
            <p className="hint">
              <Link to={`/retrieval/indexes/${index.id}`}>{index.name}</Link>:{" "}
              {index.embedding_model}, {index.chunks} chunks
            </p>
          )}
          <label htmlFor="query-text">Query</label>
          <textarea
            id="query-text"
            rows={2}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                search.mutate();
              }
            }}
            aria-invalid={fieldInvalid(error, "query")}
            aria-describedby="query-text-hint query-text-error"
            required
          />
          <p id="query-text-hint" className="hint">
            Ctrl+Enter searches.
          </p>
          <FieldError error={error} field="query" id="query-text-error" />
          <div className="field-row">
            <div>
              <label htmlFor="query-top-k">Top k</label>
              <input
                id="query-top-k"
                type="number"
                min="1"
                max="100"
                value={topK}
                onChange={(e) => setTopK(e.target.value)}
                aria-invalid={fieldInvalid(error, "top_k")}
                aria-describedby="query-top-k-error"
              />
              <FieldError error={error} field="top_k" id="query-top-k-error" />
            </div>
            <div>
              <label htmlFor="query-mmr">MMR λ (optional)</label>
              <input
                id="query-mmr"
                type="number"
                min="0"
                max="1"
                step="0.05"
                value={mmr}
                onChange={(e) => setMmr(e.target.value)}
                aria-invalid={fieldInvalid(error, "mmr_lambda")}
                aria-describedby="query-mmr-hint query-mmr-error"
              />
              <p id="query-mmr-hint" className="hint">
                0..1: 1 is pure relevance, lower diversifies. Blank: off.
              </p>
              <FieldError error={error} field="mmr_lambda" id="query-mmr-error" />
            </div>
          </div>
          <FiltersEditor
            rows={filters}
            onChange={setFilters}
            schema={index?.metadata_schema ?? {}}
            error={error}
          />
          <label className="inline-check">
            <input
              type="checkbox"
              checked={rerank}
              onChange={(e) => setRerank(e.target.checked)}
              aria-describedby="query-rerank-error"
            />
            Rerank with the cross-encoder
          </label>
          <FieldError error={error} field="rerank" id="query-rerank-error" />
          {error !== undefined && <ProblemBanner error={error} />}
          <button type="submit" disabled={search.isPending || !indexId}>
            {search.isPending ? "Searching…" : "Search"}
          </button>
        </form>
      )}
      {search.isPending && <Loading what="Searching in three modes" />}
      {search.data && error === undefined && (
        <ModeColumns indexId={search.data.indexId} answers={answers} />
      )}
    </>
  );
}
