import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { DurationField } from "./DurationField";
import { toSeconds, type DurationUnit } from "./duration";
import { MetadataFieldsEditor, type MetadataRow } from "./MetadataFieldsEditor";
import { useEmbeddingModels } from "./queries";

/** A labelled number input whose API refusal (`field`) is shown under it. */
function NumberField({
  id,
  label,
  value,
  onChange,
  error,
  field,
  step = "1",
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error: unknown;
  field: string;
  step?: string;
}) {
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        step={step}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={fieldInvalid(error, field)}
        aria-describedby={`${id}-error`}
        required
      />
      <FieldError error={error} field={field} id={`${id}-error`} />
    </div>
  );
}

/** Create an index of the project (Editor): name, embedding model, chunking, metadata
 * fields, TTL and re-index interval. Opens the new index. */
export function NewIndexForm({ projectId }: { projectId: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const models = useEmbeddingModels();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [model, setModel] = useState("");
  const [minTokens, setMinTokens] = useState("300");
  const [maxTokens, setMaxTokens] = useState("800");
  const [overlap, setOverlap] = useState("0.12");
  const [metadata, setMetadata] = useState<MetadataRow[]>([]);
  const [ttl, setTtl] = useState("");
  const [ttlUnit, setTtlUnit] = useState<DurationUnit>("days");
  const [reindex, setReindex] = useState("");
  const [reindexUnit, setReindexUnit] = useState<DurationUnit>("hours");
  const chosenModel = model || models.data?.data[0]?.name || "";
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/retrieval/indexes", {
          body: {
            project_id: projectId,
            name,
            description,
            embedding_model: chosenModel,
            chunking: {
              min_tokens: Number(minTokens),
              max_tokens: Number(maxTokens),
              overlap: Number(overlap),
            },
            metadata_schema: Object.fromEntries(
              metadata.filter((r) => r.name.trim()).map((r) => [r.name.trim(), r.type]),
            ),
            ttl_seconds: toSeconds(ttl, ttlUnit),
            reindex_interval_seconds: toSeconds(reindex, reindexUnit),
          },
        }),
      ),
    onSuccess: async (index) => {
      await queryClient.invalidateQueries({ queryKey: ["retrieval-indexes"] });
      navigate(`/retrieval/indexes/${index.id}`);
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  const error = create.error;
  return (
    <form onSubmit={submit} className="card wide new-index" aria-labelledby="new-index">
      <h2 id="new-index">New index</h2>
      <ProblemBanner error={error} />
      <label htmlFor="index-name">Name</label>
      <input
        id="index-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-invalid={fieldInvalid(error, "name")}
        aria-describedby="index-name-error"
        required
      />
      <FieldError error={error} field="name" id="index-name-error" />
      <label htmlFor="index-description">Description</label>
      <input
        id="index-description"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
      <label htmlFor="index-model">Embedding model</label>
      <select
        id="index-model"
        value={chosenModel}
        onChange={(e) => setModel(e.target.value)}
        aria-invalid={fieldInvalid(error, "embedding_model")}
        aria-describedby="index-model-hint index-model-error"
      >
        {models.data?.data.map((m) => (
          <option key={m.name} value={m.name}>
            {m.name} ({m.dimension} dimensions)
          </option>
        ))}
      </select>
      <p id="index-model-hint" className="hint">
        {models.data?.data.find((m) => m.name === chosenModel)?.description ??
          (models.isPending ? "Loading the models…" : "")}
      </p>
      <FieldError error={error} field="embedding_model" id="index-model-error" />
      <ProblemBanner error={models.error} />
      <fieldset aria-describedby="chunking-hint chunking-error">
        <legend>Chunking</legend>
        <p id="chunking-hint" className="hint">
          Chunk sizes in tokens of the embedding model; overlap is the fraction of a chunk
          repeated from the one before (0 to 0.5).
        </p>
        <div className="field-row">
          <NumberField
            id="chunk-min"
            label="Min tokens"
            value={minTokens}
            onChange={setMinTokens}
            error={error}
            field="chunking.min_tokens"
          />
          <NumberField
            id="chunk-max"
            label="Max tokens"
            value={maxTokens}
            onChange={setMaxTokens}
            error={error}
            field="chunking.max_tokens"
          />
          <NumberField
            id="chunk-overlap"
            label="Overlap"
            value={overlap}
            onChange={setOverlap}
            error={error}
            field="chunking.overlap"
            step="0.01"
          />
        </div>
        <FieldError error={error} field="chunking" id="chunking-error" />
      </fieldset>
      <MetadataFieldsEditor rows={metadata} onChange={setMetadata} error={error} />
      <div className="field-row">
        <DurationField
          id="index-ttl"
          label="Time to live"
          hint="Documents expire this long after their last ingestion. Blank: never."
          amount={ttl}
          unit={ttlUnit}
          onAmount={setTtl}
          onUnit={setTtlUnit}
          error={error}
          field="ttl_seconds"
        />
        <DurationField
          id="index-reindex"
          label="Re-index interval"
          hint="Every source is ingested again this often. Blank: only on demand."
          amount={reindex}
          unit={reindexUnit}
          onAmount={setReindex}
          onUnit={setReindexUnit}
          error={error}
          field="reindex_interval_seconds"
        />
      </div>
      <button type="submit" disabled={create.isPending || !chosenModel}>
        Create index
      </button>
    </form>
  );
}
