import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { importErrorText } from "./importError";

type Source = "file" | "paste";
type Format = "jsonl" | "csv";

const CONTENT_TYPE: Record<Format, string> = {
  jsonl: "application/x-ndjson",
  csv: "text/csv",
};

/** What one import sends: a chosen file (multipart, field `file`) or pasted rows (the
 * text itself, typed JSONL or CSV). */
type Upload = { source: "file"; file: File } | { source: "paste"; text: string; format: Format };

/** Import examples from a JSONL or CSV file (multipart upload) or from pasted rows. The API
 * takes all rows or none: a refusal names the first bad row, shown next to the field the
 * rows came from, and nothing is imported. */
export function ImportExamples({ datasetId }: { datasetId: string }) {
  const queryClient = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [source, setSource] = useState<Source>("file");
  const [file, setFile] = useState<File | null>(null);
  const [text, setText] = useState("");
  const [format, setFormat] = useState<Format>("jsonl");
  const upload = useMutation({
    mutationFn: async (what: Upload) => {
      const path = { dataset_id: datasetId };
      if (what.source === "file") {
        const form = new FormData();
        form.append("file", what.file, what.file.name);
        return unwrap(
          await api.POST("/api/v1/datasets/{dataset_id}/examples", {
            params: { path },
            // multipart/form-data: the browser sets the boundary for a FormData body.
            body: form as unknown as { file?: string },
            bodySerializer: (body) => body as unknown as FormData,
          }),
        );
      }
      return unwrap(
        await api.POST("/api/v1/datasets/{dataset_id}/examples", {
          params: { path },
          body: what.text,
          bodySerializer: (body) => body as string,
          headers: { "Content-Type": CONTENT_TYPE[what.format] },
        }),
      );
    },
    onSuccess: async (_, what) => {
      if (what.source === "file") {
        setFile(null);
        if (input.current) input.current.value = "";
      } else {
        setText("");
      }
      await queryClient.invalidateQueries({ queryKey: ["dataset", datasetId] });
      await queryClient.invalidateQueries({ queryKey: ["examples", datasetId] });
    },
  });
  const error = importErrorText(upload.error);
  const ready = source === "file" ? file !== null : text.trim() !== "";

  function submit(event: FormEvent) {
    event.preventDefault();
    if (source === "file" && file) upload.mutate({ source, file });
    if (source === "paste" && text.trim() !== "") upload.mutate({ source, text, format });
  }

  const errorBox = error && (
    <p id="import-error" role="alert" className="error field-error import-error">
      {error}
      <span className="import-nothing"> Nothing was imported.</span>
    </p>
  );

  return (
    <form onSubmit={submit} className="card import-card" aria-labelledby="import-heading">
      <h2 id="import-heading">Import examples</h2>
      <p id="import-hint" className="hint">
        One example per line (JSONL) or row (CSV with a header): <code>id</code>,{" "}
        <code>input</code> (an object of the prompt's variables, or one value),{" "}
        <code>expected</code>, <code>metadata</code> (an object). All rows are imported, or none.
      </p>
      <fieldset className="import-source">
        <legend>From</legend>
        {(["file", "paste"] as const).map((s) => (
          <div className="checkbox" key={s}>
            <input
              type="radio"
              id={`import-source-${s}`}
              name="import-source"
              checked={source === s}
              onChange={() => {
                setSource(s);
                upload.reset();
              }}
            />
            <label htmlFor={`import-source-${s}`}>{s === "file" ? "a file" : "pasted rows"}</label>
          </div>
        ))}
      </fieldset>
      {source === "file" ? (
        <>
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
          {errorBox}
        </>
      ) : (
        <>
          <label htmlFor="import-format">Format</label>
          <select
            id="import-format"
            className="import-format"
            value={format}
            onChange={(e) => {
              setFormat(e.target.value as Format);
              upload.reset();
            }}
          >
            <option value="jsonl">JSONL (one JSON object per line)</option>
            <option value="csv">CSV (first line: the header)</option>
          </select>
          <label htmlFor="import-text">Rows</label>
          <textarea
            id="import-text"
            className="import-text"
            rows={8}
            spellCheck={false}
            value={text}
            placeholder={
              format === "jsonl"
                ? '{"id": "fr", "input": {"country": "France"}, "expected": "Paris"}'
                : 'id,input,expected\nfr,"{""country"": ""France""}",Paris'
            }
            onChange={(e) => setText(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby="import-hint import-error"
          />
          {errorBox}
        </>
      )}
      {upload.data && (
        <p role="status" className="ok">
          Imported {upload.data.imported} example{upload.data.imported === 1 ? "" : "s"}; the
          dataset now has {upload.data.total}.
        </p>
      )}
      <button type="submit" disabled={!ready || upload.isPending}>
        {upload.isPending ? "Importing…" : "Import"}
      </button>
    </form>
  );
}
