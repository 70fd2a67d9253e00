import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { formatDuration, formatTime } from "../../components/time";
import { DocumentsTable } from "./DocumentsTable";
import { IngestForm } from "./IngestForm";
import { IngestionProgressPanel } from "./IngestionProgressPanel";
import { useIndex, type Index } from "./queries";
import { SourcesTable } from "./SourcesTable";
import "./retrieval.css";

function IndexFacts({ index }: { index: Index }) {
  const chunking = index.chunking as { min_tokens?: number; max_tokens?: number; overlap?: number };
  const facts: [string, string][] = [
    ["Embedding model", `${index.embedding_model} (${index.dimension} dimensions)`],
    ["Model version", index.embedding_model_version],
    [
      "Chunking",
      `${chunking.min_tokens ?? "?"}–${chunking.max_tokens ?? "?"} tokens, ` +
        `${Math.round((chunking.overlap ?? 0) * 100)}% overlap`,
    ],
    ["Documents", String(index.documents)],
    ["Chunks", String(index.chunks)],
    ["Time to live", index.ttl_seconds ? formatDuration(index.ttl_seconds) : "none"],
    [
      "Re-index every",
      index.reindex_interval_seconds ? formatDuration(index.reindex_interval_seconds) : "on demand",
    ],
    ["Created", formatTime(index.created_at)],
  ];
  return (
    <>
      <dl className="facts">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <p className="small">
        <span className="muted">Metadata fields: </span>
        {Object.entries(index.metadata_schema).map(([name, type], i) => (
          <span key={name}>
            {i > 0 && ", "}
            <code>{name}</code> ({type})
          </span>
        ))}
      </p>
    </>
  );
}

/** One index: its settings and counts, its sources, an ingest form with the live progress of
 * the ingestion it starts, its documents, and delete (Editor, confirmed). */
export function IndexPage() {
  const { indexId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const ingestionId = search.get("ingestion");
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useMe();
  const index = useIndex(indexId);
  const projectId = index.data?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.DELETE("/api/v1/retrieval/indexes/{index_id}", {
          params: { path: { index_id: indexId } },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["retrieval-indexes"] });
      navigate(`/projects/${projectId}/retrieval`);
    },
  });

  if (index.isPending) return <Loading what="Loading the index" />;
  if (index.error || !index.data) {
    return (
      <>
        <h1>Index</h1>
        <ProblemBanner error={index.error} />
      </>
    );
  }
  const i = index.data;
  const editor = atLeast(me.data?.role, "Editor");
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["retrieval-index", indexId] });
    void queryClient.invalidateQueries({ queryKey: ["retrieval-documents", indexId] });
    void queryClient.invalidateQueries({ queryKey: ["retrieval-indexes"] });
  };
  return (
    <>
      <p className="breadcrumb">
        <Link to={`/projects/${i.project_id}/retrieval`}>Retrieval</Link> /
      </p>
      <div className="page-head">
        <h1>{i.name}</h1>
        <Link className="button-link" to={`/retrieval/query?index=${i.id}`}>
          Query this index
        </Link>
        {editor && (
          <ConfirmButton
            label="Delete index"
            confirmLabel={`Delete ${i.name} and its ${i.documents} documents`}
            onConfirm={() => remove.mutate()}
            busy={remove.isPending}
          />
        )}
      </div>
      <ProblemBanner error={remove.error} />
      {i.description && <p>{i.description}</p>}
      <IndexFacts index={i} />
      <h2>Sources</h2>
      <SourcesTable sources={i.sources ?? []} indexId={i.id} />
      {editor && (
        <IngestForm
          index={i}
          onStarted={(id) => setSearch({ ingestion: id }, { replace: true })}
        />
      )}
      {ingestionId && (
        <IngestionProgressPanel key={ingestionId} ingestionId={ingestionId} onFinished={refresh} />
      )}
      <h2>Documents</h2>
      <DocumentsTable indexId={i.id} />
    </>
  );
}
