import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { api } from "../../api/client";
import type { ApiProblem } from "../../api/errors";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";

export type RetrievalBody = components["schemas"]["RetrievalBody"];
type SearchMode = NonNullable<RetrievalBody["mode"]>;

/** The run form's RAG choices, as typed. `queryVariable`: a variable's name, `""` for the
 * last user message, or null when not chosen yet (then the version's first variable);
 * `contextTokens`: the budget for the chunks given (empty: the API's default). */
export interface RetrievalChoice {
  index: string;
  k: string;
  mode: SearchMode;
  queryVariable: string | null;
  contextTokens: string;
}

/** The API's default budget for the chunks (tokens); the generated type requires a value. */
const MAX_CONTEXT_TOKENS = 600;

export const NO_RETRIEVAL: RetrievalChoice = {
  index: "",
  k: "4",
  mode: "hybrid",
  queryVariable: null,
  contextTokens: "",
};

function wholeNumber(text: string, min: number, max: number): number | null {
  const n = Number(text);
  return text.trim() !== "" && Number.isInteger(n) && n >= min && n <= max ? n : null;
}

function fieldProblem(field: string, message: string): ApiProblem {
  return { status: 0, message, fields: { [field]: message } };
}

const MODES: { value: SearchMode; label: string }[] = [
  { value: "hybrid", label: "hybrid (dense + keyword, fused by RRF)" },
  { value: "dense", label: "dense (embeddings)" },
  { value: "keyword", label: "keyword (full text)" },
];

/** The query variable in effect: the one chosen if the version declares it, else its first
 * variable, else the last user message (""). */
export function effectiveQueryVariable(choice: RetrievalChoice, variables: string[]): string {
  if (choice.queryVariable === "") return "";
  if (choice.queryVariable !== null && variables.includes(choice.queryVariable)) {
    return choice.queryVariable;
  }
  return variables[0] ?? "";
}

/** The `retrieval` of a generate request (undefined when no index is chosen), or the problem
 * with a field as the API would name it. */
export function retrievalRequest(
  choice: RetrievalChoice,
  variables: string[],
): { body?: RetrievalBody; problem?: ApiProblem } {
  if (!choice.index) return {};
  const k = wholeNumber(choice.k, 1, 50);
  if (k === null) return { problem: fieldProblem("retrieval.k", "Enter a whole number from 1 to 50.") };
  const budget =
    choice.contextTokens.trim() === ""
      ? MAX_CONTEXT_TOKENS
      : wholeNumber(choice.contextTokens, 1, 200_000);
  if (budget === null) {
    const message = "Enter a whole number of tokens from 1 to 200000.";
    return { problem: fieldProblem("retrieval.max_context_tokens", message) };
  }
  const queryVariable = effectiveQueryVariable(choice, variables);
  return {
    body: {
      index: choice.index,
      k,
      mode: choice.mode,
      max_context_tokens: budget,
      ...(queryVariable ? { query_variable: queryVariable } : {}),
    },
  };
}

/** The "Retrieval (RAG)" part of the run form: an index of the project (or none), how many
 * chunks, the search mode, and what to search with. */
export function RetrievalFields({
  projectId,
  variables,
  value,
  onChange,
  error,
}: {
  projectId: string;
  variables: string[];
  value: RetrievalChoice;
  onChange: (value: RetrievalChoice) => void;
  error: unknown;
}) {
  const indexes = useQuery({
    queryKey: ["retrieval-indexes", projectId],
    enabled: projectId !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes", {
          params: { query: { project_id: projectId } },
        }),
      ),
  });
  const list = indexes.data?.data ?? [];
  // An index of another project (the project was switched) is not kept.
  useEffect(() => {
    if (indexes.data && value.index && !list.some((i) => i.id === value.index)) {
      onChange({ ...value, index: "" });
    }
  }, [indexes.data, value.index]);
  const set = (changes: Partial<RetrievalChoice>) => onChange({ ...value, ...changes });
  const query = effectiveQueryVariable(value, variables);

  return (
    <fieldset className="retrieval" aria-describedby="rag-hint">
      <legend>Retrieval (RAG)</legend>
      <ProblemBanner error={indexes.error} />
      <label htmlFor="rag-index">Index</label>
      <select
        id="rag-index"
        value={value.index}
        onChange={(e) => set({ index: e.target.value })}
        aria-invalid={fieldInvalid(error, "retrieval.index")}
        aria-describedby="rag-index-error"
      >
        <option value="">
          {indexes.isPending && projectId ? "Loading the indexes…" : "None (no retrieval)"}
        </option>
        {list.map((i) => (
          <option key={i.id} value={i.id}>
            {i.name} ({i.chunks} chunks)
          </option>
        ))}
      </select>
      <FieldError error={error} field="retrieval.index" id="rag-index-error" />
      <p id="rag-hint" className="muted hint">
        {list.length === 0 && indexes.data
          ? "This project has no retrieval index yet."
          : "The chunks found are given to the model as cited sources."}
      </p>
      {value.index && (
        <>
          <div className="decoding-row">
            <div>
              <label htmlFor="rag-k">Chunks (k)</label>
              <input
                id="rag-k"
                type="number"
                inputMode="numeric"
                min="1"
                max="50"
                step="1"
                value={value.k}
                onChange={(e) => set({ k: e.target.value })}
                aria-invalid={fieldInvalid(error, "retrieval.k")}
                aria-describedby="rag-k-error"
              />
              <FieldError error={error} field="retrieval.k" id="rag-k-error" />
            </div>
            <div>
              <label htmlFor="rag-context">Context budget (tokens)</label>
              <input
                id="rag-context"
                type="number"
                inputMode="numeric"
                min="1"
                step="1"
                placeholder={`${MAX_CONTEXT_TOKENS} (default)`}
                value={value.contextTokens}
                onChange={(e) => set({ contextTokens: e.target.value })}
                aria-invalid={fieldInvalid(error, "retrieval.max_context_tokens")}
                aria-describedby="rag-context-error rag-context-hint"
              />
              <FieldError
                error={error}
                field="retrieval.max_context_tokens"
                id="rag-context-error"
              />
            </div>
          </div>
          <p id="rag-context-hint" className="muted hint">
            The best chunks that fit the budget are given; keep it within the model&apos;s
            context window.
          </p>
          <label htmlFor="rag-mode">Search mode</label>
          <select
            id="rag-mode"
            value={value.mode}
            onChange={(e) => set({ mode: e.target.value as SearchMode })}
            aria-invalid={fieldInvalid(error, "retrieval.mode")}
            aria-describedby="rag-mode-error"
          >
            {MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
          <FieldError error={error} field="retrieval.mode" id="rag-mode-error" />
          <label htmlFor="rag-query">Search with</label>
          <select
            id="rag-query"
            value={query}
            onChange={(e) => set({ queryVariable: e.target.value })}
            aria-invalid={
              fieldInvalid(error, "retrieval.query_variable") ??
              fieldInvalid(error, "retrieval.query")
            }
            aria-describedby="rag-query-error rag-query-variable-error"
          >
            {variables.map((name) => (
              <option key={name} value={name}>
                the variable {name}
              </option>
            ))}
            <option value="">the last user message</option>
          </select>
          <FieldError error={error} field="retrieval.query_variable" id="rag-query-variable-error" />
          <FieldError error={error} field="retrieval.query" id="rag-query-error" />
        </>
      )}
    </fieldset>
  );
}
