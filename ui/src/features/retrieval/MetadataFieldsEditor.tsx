import { isProblem } from "../../api/errors";

export const METADATA_TYPES = ["string", "integer", "number", "boolean"] as const;
export type MetadataType = (typeof METADATA_TYPES)[number];
export interface MetadataRow {
  name: string;
  type: MetadataType;
}

/** The API's messages about `metadata_schema` (the whole map or one field of it). */
function schemaErrors(error: unknown): Record<string, string> {
  if (!isProblem(error)) return {};
  return Object.fromEntries(
    Object.entries(error.fields).filter(
      ([key]) => key === "metadata_schema" || key.startsWith("metadata_schema."),
    ),
  );
}

/** The index's filterable metadata fields: rows of name and type. `section` and `media_type`
 * are always there. A refusal naming one field is shown on its row. */
export function MetadataFieldsEditor({
  rows,
  onChange,
  error,
}: {
  rows: MetadataRow[];
  onChange: (rows: MetadataRow[]) => void;
  error: unknown;
}) {
  const errors = schemaErrors(error);
  const rowError = (row: MetadataRow) =>
    row.name ? errors[`metadata_schema.${row.name.trim()}`] : undefined;
  const shown = new Set(rows.map((r) => `metadata_schema.${r.name.trim()}`));
  const other = Object.entries(errors).filter(([key]) => !shown.has(key));
  const set = (i: number, change: Partial<MetadataRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <fieldset aria-describedby="metadata-hint metadata-error">
      <legend>Metadata fields</legend>
      <p id="metadata-hint" className="hint">
        Filterable document metadata. <code>section</code> and <code>media_type</code> are always
        there.
      </p>
      {rows.map((row, i) => {
        const message = rowError(row);
        return (
          <div className="field-row" key={i}>
            <div>
              <label htmlFor={`metadata-name-${i}`}>Field {i + 1} name</label>
              <input
                id={`metadata-name-${i}`}
                value={row.name}
                onChange={(e) => set(i, { name: e.target.value })}
                aria-invalid={message ? true : undefined}
                aria-describedby={message ? `metadata-name-${i}-error` : undefined}
              />
              {message && (
                <p id={`metadata-name-${i}-error`} className="error field-error">
                  {message}
                </p>
              )}
            </div>
            <div>
              <label htmlFor={`metadata-type-${i}`}>Field {i + 1} type</label>
              <select
                id={`metadata-type-${i}`}
                value={row.type}
                onChange={(e) => set(i, { type: e.target.value as MetadataType })}
              >
                {METADATA_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            </div>
            <button
              type="button"
              className="secondary"
              onClick={() => onChange(rows.filter((_, j) => j !== i))}
            >
              Remove<span className="visually-hidden"> field {i + 1}</span>
            </button>
          </div>
        );
      })}
      <button
        type="button"
        className="secondary add-row"
        onClick={() => onChange([...rows, { name: "", type: "string" }])}
      >
        Add metadata field
      </button>
      {other.length > 0 && (
        <p id="metadata-error" className="error field-error">
          {other.map(([, message]) => message).join(" ")}
        </p>
      )}
    </fieldset>
  );
}
