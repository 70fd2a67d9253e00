import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { importErrorText } from "./importError";

/** Import examples from a JSONL or CSV file (multipart upload). The API takes all rows or
 * none: a refusal names the first bad row, shown next to the file field, and nothing is
 * imported. */
export function ImportExamples({ datasetId }: { datasetId: string }) {
  const queryClient = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({
    mutationFn: async (chosen: File) => {
      const form = new FormData();
      form.append("file", chosen, chosen.name);
      return unwrap(
        await api.POST("/api/v1/datasets/{dataset_id}/examples", {
          params: { path: { dataset_id: datasetId } },
          // multipart/form-data: openapi-fetch sends a FormData body as it is.
          body: form as unknown as { file?: string },
          bodySerializer: (body) => body as unknown as FormData,
        }),
      );
    },
    onSuccess: async () => {
      setFile(null);
      if (input.current) input.current.value = "";
      await queryClient.invalidateQueries({ queryKey: ["dataset", datasetId] });
      await queryClient.invalidateQueries({ queryKey: ["examples", datasetId] });
    },
  });
  const error = importErrorText(upload.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (file) upload.mutate(file);
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="import-heading">
      <h2 id="import-heading">Import examples</h2>
      <label htmlFor="import-file">File (JSONL or CSV)</label>
      <input
        ref={input}
        id="import-file"
        type="file"
        accept=".jsonl,.ndjson,.json,.csv,.txt,application/x-ndjson,text/csv"
        onChange={(e) => {
          setFile(e.target.files?.[0] ?? null);
          upload.reset();
        }}
        aria-invalid={error ? true : undefined}
        aria-describedby="import-hint import-error"
      />
      <p id="import-hint" className="hint">
        One example per line (JSONL) or row (CSV with a header): <code>id</code>,{" "}
        <code>input</code> (an object of the prompt's variables, or one value),{" "}
        <code>expected</code>, <code>metadata</code> (an object). All rows are imported, or none.
      </p>
      {error && (
        <p id="import-error" role="alert" className="error field-error import-error">
          {error}
          <span className="import-nothing"> Nothing was imported.</span>
        </p>
      )}
      {upload.data && (
        <p role="status" className="ok">
          Imported {upload.data.imported} example{upload.data.imported === 1 ? "" : "s"}; the
          dataset now has {upload.data.total}.
        </p>
      )}
      <button type="submit" disabled={!file || upload.isPending}>
        {upload.isPending ? "Importing…" : "Import"}
      </button>
    </form>
  );
}
