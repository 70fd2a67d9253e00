import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { DataValue } from "../../components/DataValue";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { CitedSource } from "./CitedSource";
import "./chunk.css";

/** One chunk of an index (`GET /retrieval/indexes/{id}/chunks/{chunk_id}`): what a citation
 * points at. Its marker (to copy into a prompt or an answer), where it comes from, the
 * headings above it, its text, and what it was embedded with. */
export function ChunkPage() {
  const { indexId = "", chunkId = "" } = useParams();
  const chunk = useQuery({
    queryKey: ["retrieval-chunk", indexId, chunkId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes/{index_id}/chunks/{chunk_id}", {
          params: { path: { index_id: indexId, chunk_id: chunkId } },
        }),
      ),
  });
  const index = useQuery({
    queryKey: ["retrieval-index", indexId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes/{index_id}", {
          params: { path: { index_id: indexId } },
        }),
      ),
  });
  const projectId = index.data?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);

  if (chunk.isPending) return <Loading what="Loading the chunk" />;
  if (chunk.error || !chunk.data) {
    return (
      <>
        <h1>Chunk</h1>
        <ProblemBanner error={chunk.error} />
      </>
    );
  }
  const c = chunk.data;
  const metadata = Object.entries(c.metadata);
  return (
    <div className="chunk-page">
      <p className="breadcrumb">
        <Link to={`/retrieval/indexes/${indexId}`}>{index.data?.name ?? "Index"}</Link> /{" "}
        <span className="mono">{c.source}</span> /
      </p>
      <h1>{c.title || c.source}</h1>
      {c.heading_path.length > 0 && (
        <nav aria-label="Heading path" className="heading-path">
          <ol>
            {c.heading_path.map((heading, i) => (
              <li key={i} aria-current={i === c.heading_path.length - 1 ? "location" : undefined}>
                {heading}
              </li>
            ))}
          </ol>
        </nav>
      )}

      <section className="card" aria-labelledby="chunk-citation">
        <h2 id="chunk-citation">Citation</h2>
        <CitationMarker marker={c.citation} />
        <dl className="facts">
          <div>
            <dt>Source</dt>
            <dd>
              <CitedSource source={c.source} anchor={c.anchor} />
            </dd>
          </div>
          <div>
            <dt>Index</dt>
            <dd>
              {index.data ? (
                <Link to={`/retrieval/indexes/${indexId}`}>{index.data.name}</Link>
              ) : (
                <span className="mono">{indexId.slice(0, 8)}</span>
              )}
            </dd>
          </div>
          <div>
            <dt>Chunk</dt>
            <dd>no. {c.ordinal + 1} of its document</dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>{c.token_count}</dd>
          </div>
          <div>
            <dt>Embedding model</dt>
            <dd>{c.embedding_model}</dd>
          </div>
        </dl>
      </section>

      <section className="card" aria-labelledby="chunk-text">
        <h2 id="chunk-text">Text</h2>
        <pre className="chunk-text" data-testid="chunk-text">
          {c.text}
        </pre>
      </section>

      <section className="card" aria-labelledby="chunk-metadata">
        <h2 id="chunk-metadata">Metadata</h2>
        {metadata.length === 0 ? (
          <p className="muted">No metadata.</p>
        ) : (
          <dl className="chunk-metadata">
            {metadata.map(([key, value]) => (
              <div key={key}>
                <dt className="mono">{key}</dt>
                <dd>
                  <DataValue value={value} />
                </dd>
              </div>
            ))}
          </dl>
        )}
        <p className="muted hint">
          Document <span className="mono">{c.document_id}</span>, chunk{" "}
          <span className="mono">{c.chunk_id}</span>
        </p>
      </section>
      <ProblemBanner error={index.error} />
    </div>
  );
}

/** The marker an answer cites this chunk with, and a button that copies it. */
function CitationMarker({ marker }: { marker: string }) {
  const [copied, setCopied] = useState<"" | "done" | "failed">("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(marker);
      setCopied("done");
    } catch {
      // No clipboard (an insecure origin, a refused permission): the marker stays selectable.
      setCopied("failed");
    }
  }
  return (
    <div className="citation-marker">
      <code data-testid="citation-marker">{marker}</code>
      <button type="button" className="secondary" onClick={() => void copy()}>
        Copy marker
      </button>
      <span role="status" aria-live="polite" className="muted">
        {copied === "done"
          ? "Copied to the clipboard."
          : copied === "failed"
            ? "The clipboard is not available here: select the marker and copy it."
            : ""}
      </span>
    </div>
  );
}
