import { Link } from "react-router-dom";
import { ChunkLink, CitedSource } from "../retrieval/CitedSource";
import "../retrieval/chunk.css";

/** A chunk given to the model, with the marker it was shown with. */
export interface GivenSource {
  marker: string;
  chunk_id: string;
  source: string;
  anchor: string | null;
}

/** A `[doc:...]` marker found in the answer: valid when it names a chunk given to the model
 * (then its chunk, source and anchor are set), flagged otherwise with the reason. */
export interface Citation {
  marker: string;
  valid: boolean;
  chunk_id: string | null;
  source: string | null;
  anchor: string | null;
  reason: string | null;
}

/** A RAG run's `retrieval` (RunResult.retrieval): what was retrieved and how the answer
 * cited it. */
export interface RunRetrieval {
  index_id: string;
  index: string;
  mode: string;
  k: number;
  query?: string;
  retrieved?: number;
  context_tokens?: number;
  latency_ms: number;
  sources: GivenSource[];
  citations: Citation[];
  invalid_citations: number;
}

/** The run's `retrieval` when it has the shape of one (the API types it as an open object). */
export function asRunRetrieval(value: unknown): RunRetrieval | null {
  if (value === null || typeof value !== "object") return null;
  const r = value as Partial<RunRetrieval>;
  if (typeof r.index_id !== "string" || !Array.isArray(r.sources)) return null;
  const citations = Array.isArray(r.citations) ? r.citations : [];
  return {
    index_id: r.index_id,
    index: typeof r.index === "string" ? r.index : r.index_id,
    mode: typeof r.mode === "string" ? r.mode : "",
    k: typeof r.k === "number" ? r.k : r.sources.length,
    query: r.query,
    retrieved: r.retrieved,
    context_tokens: r.context_tokens,
    latency_ms: typeof r.latency_ms === "number" ? r.latency_ms : 0,
    sources: r.sources,
    citations,
    invalid_citations:
      typeof r.invalid_citations === "number"
        ? r.invalid_citations
        : citations.filter((c) => !c.valid).length,
  };
}

/** What a RAG run retrieved and how its answer cited it: the sources given to the model
 * (each linked to its chunk's page) and the answer's citations, each checked. */
export function RetrievalResult({ retrieval }: { retrieval: RunRetrieval }) {
  const r = retrieval;
  return (
    <section className="run-retrieval" aria-labelledby="retrieval-heading">
      <h3 id="retrieval-heading">Retrieval</h3>
      <dl className="figures" aria-label="Retrieval figures">
        <div>
          <dt>Index</dt>
          <dd>
            <Link to={`/retrieval/indexes/${r.index_id}`}>{r.index}</Link>
          </dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{r.mode}</dd>
        </div>
        <div>
          <dt>Chunks given</dt>
          <dd>
            {r.sources.length}
            {r.retrieved !== undefined && r.retrieved !== r.sources.length
              ? ` of ${r.retrieved}`
              : ""}{" "}
            (k = {r.k})
          </dd>
        </div>
        {r.context_tokens !== undefined && (
          <div>
            <dt>Context tokens</dt>
            <dd>{r.context_tokens}</dd>
          </div>
        )}
        <div>
          <dt>Retrieval latency</dt>
          <dd>{Math.round(r.latency_ms)} ms</dd>
        </div>
      </dl>
      {r.query && (
        <p className="muted hint">
          Searched for: <q>{r.query.length > 200 ? `${r.query.slice(0, 200)}…` : r.query}</q>
        </p>
      )}
      <Sources indexId={r.index_id} sources={r.sources} />
      <Citations indexId={r.index_id} citations={r.citations} />
    </section>
  );
}

function Sources({ indexId, sources }: { indexId: string; sources: GivenSource[] }) {
  return (
    <>
      <h4 id="sources-heading">Sources given to the model</h4>
      {sources.length === 0 ? (
        <p className="muted">
          No chunk was given: nothing matched, or none fitted the context window.
        </p>
      ) : (
        <ol className="sources" aria-labelledby="sources-heading">
          {sources.map((s) => (
            <li key={s.chunk_id}>
              <ChunkLink indexId={indexId} chunkId={s.chunk_id} marker={s.marker} />{" "}
              <CitedSource source={s.source} anchor={s.anchor} />
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

/** The answer's citations: each valid (it names a chunk given to the model; linked to it) or
 * flagged with the reason. The verdict is written out, never shown by colour alone. */
export function Citations({ indexId, citations }: { indexId: string; citations: Citation[] }) {
  const flagged = citations.filter((c) => !c.valid).length;
  return (
    <>
      <h4 id="citations-heading">Citations in the answer</h4>
      {citations.length === 0 ? (
        <p className="muted">The answer cites no source.</p>
      ) : (
        <>
          <p className="muted hint" id="citations-summary">
            {citations.length} {citations.length === 1 ? "citation" : "citations"},{" "}
            {flagged === 0 ? "all valid" : `${flagged} flagged`}.
          </p>
          <ul
            className="citations"
            aria-labelledby="citations-heading"
            aria-describedby="citations-summary"
          >
            {citations.map((c) => (
              <li key={c.marker}>
                {c.valid ? (
                  <span className="badge badge-good">
                    <span aria-hidden="true">✓ </span>Valid
                  </span>
                ) : (
                  <span className="badge badge-bad">
                    <span aria-hidden="true">⚠ </span>Flagged
                  </span>
                )}{" "}
                {c.valid && c.chunk_id ? (
                  <>
                    <ChunkLink indexId={indexId} chunkId={c.chunk_id} marker={c.marker} />
                    {c.source && (
                      <>
                        {" "}
                        <CitedSource source={c.source} anchor={c.anchor} />
                      </>
                    )}
                  </>
                ) : (
                  <>
                    <span className="mono">{c.marker}</span>{" "}
                    <span className="error">{c.reason ?? "not a retrieved chunk"}</span>
                  </>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
