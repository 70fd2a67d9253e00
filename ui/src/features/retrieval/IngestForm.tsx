import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { InlineDocumentsEditor, type InlineRow } from "./InlineDocumentsEditor";
import { lines } from "./lines";
import { SourceMetadataFields, metadataValues } from "./SourceMetadataFields";
import type { Index } from "./queries";

/** Documents per ingestion activity (the API's default). */
const BATCH_SIZE = 32;

type Kind = "folder" | "files" | "inline" | "urls";
const KINDS: { kind: Kind; label: string }[] = [
  { kind: "folder", label: "Folder" },
  { kind: "files", label: "Files" },
  { kind: "inline", label: "Inline documents" },
  { kind: "urls", label: "URLs" },
];

/** A text box of one entry per line whose API refusal (`field`) is shown under it. */
function LinesField({
  id,
  label,
  hint,
  value,
  onChange,
  error,
  field,
  required,
}: {
  id: string;
  label: string;
  hint: string;
  value: string;
  onChange: (value: string) => void;
  error: unknown;
  field: string;
  required?: boolean;
}) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={3}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={fieldInvalid(error, field)}
        aria-describedby={`${id}-hint ${id}-error`}
        required={required}
        className="mono"
      />
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
      <FieldError error={error} field={field} id={`${id}-error`} />
    </>
  );
}

/** Start an ingestion of a source into the index (Editor): a folder (with include/exclude
 * globs), files, documents typed here, or URLs; paths are on the worker's machine. */
export function IngestForm({
  index,
  onStarted,
}: {
  index: Index;
  onStarted: (ingestionId: string) => void;
}) {
  const [kind, setKind] = useState<Kind>("folder");
  const [path, setPath] = useState("");
  const [include, setInclude] = useState("");
  const [exclude, setExclude] = useState("");
  const [paths, setPaths] = useState("");
  const [urls, setUrls] = useState("");
  const [documents, setDocuments] = useState<InlineRow[]>([{ name: "", text: "" }]);
  const [metadata, setMetadata] = useState<Record<string, string>>({});
  const [force, setForce] = useState(false);
  const ingest = useMutation({
    mutationFn: async () => {
      const source =
        kind === "folder"
          ? {
              kind,
              path,
              include: lines(include).length ? lines(include) : undefined,
              exclude: lines(exclude).length ? lines(exclude) : undefined,
            }
          : kind === "files"
            ? { kind, paths: lines(paths) }
            : kind === "urls"
              ? { kind, urls: lines(urls) }
              : { kind, documents };
      return unwrap(
        await api.POST("/api/v1/retrieval/indexes/{index_id}/ingest", {
          params: { path: { index_id: index.id } },
          body: {
            source: { ...source, metadata: metadataValues(index.metadata_schema, metadata) },
            force,
            batch_size: BATCH_SIZE,
          },
        }),
      );
    },
    onSuccess: (ingestion) => onStarted(ingestion.id),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    ingest.mutate();
  }
  const error = ingest.error;
  return (
    <form onSubmit={submit} className="card wide ingest-form" aria-labelledby="ingest-heading">
      <h2 id="ingest-heading">Ingest a source</h2>
      <ProblemBanner error={error} />
      <fieldset className="kind-choice">
        <legend>Source</legend>
        {KINDS.map((k) => (
          <label key={k.kind} className="inline-check">
            <input
              type="radio"
              name="source-kind"
              value={k.kind}
              checked={kind === k.kind}
              onChange={() => setKind(k.kind)}
            />
            {k.label}
          </label>
        ))}
      </fieldset>
      {kind === "folder" && (
        <>
          <label htmlFor="ingest-path">Folder path</label>
          <input
            id="ingest-path"
            className="mono"
            value={path}
            placeholder="/srv/docs"
            onChange={(e) => setPath(e.target.value)}
            aria-invalid={fieldInvalid(error, "source.path")}
            aria-describedby="ingest-path-hint ingest-path-error"
            required
          />
          <p id="ingest-path-hint" className="hint">
            A folder on the worker's machine, read recursively.
          </p>
          <FieldError error={error} field="source.path" id="ingest-path-error" />
          <div className="field-row">
            <div>
              <LinesField
                id="ingest-include"
                label="Include globs"
                hint="One per line; blank: HTML, Markdown, reST, text and PDF files."
                value={include}
                onChange={setInclude}
                error={error}
                field="source.include"
              />
            </div>
            <div>
              <LinesField
                id="ingest-exclude"
                label="Exclude globs"
                hint="One per line, e.g. genindex*.html"
                value={exclude}
                onChange={setExclude}
                error={error}
                field="source.exclude"
              />
            </div>
          </div>
        </>
      )}
      {kind === "files" && (
        <LinesField
          id="ingest-paths"
          label="File paths"
          hint="One absolute path per line, on the worker's machine."
          value={paths}
          onChange={setPaths}
          error={error}
          field="source.paths"
          required
        />
      )}
      {kind === "urls" && (
        <LinesField
          id="ingest-urls"
          label="URLs"
          hint="One http(s) URL per line; a page that cannot be fetched is reported, the others go on."
          value={urls}
          onChange={setUrls}
          error={error}
          field="source.urls"
          required
        />
      )}
      {kind === "inline" && (
        <>
          <InlineDocumentsEditor rows={documents} onChange={setDocuments} error={error} />
          <FieldError error={error} field="source.documents" id="ingest-documents-error" />
        </>
      )}
      <SourceMetadataFields
        schema={index.metadata_schema}
        values={metadata}
        onChange={setMetadata}
        error={error}
      />
      <label className="inline-check">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
        Force re-embed (also the documents that did not change)
      </label>
      <button type="submit" disabled={ingest.isPending}>
        {ingest.isPending ? "Starting…" : "Start ingestion"}
      </button>
    </form>
  );
}
