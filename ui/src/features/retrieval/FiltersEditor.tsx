import { isProblem } from "../../api/errors";
import { typedValue } from "./metadata";

export interface FilterRow {
  field: string;
  value: string;
}

/** The rows as the API's `filters`: field -> value, or a list of values (any of them) when a
 * field has several rows; values typed by the index's schema. Null when there are none. */
export function toFilters(
  rows: FilterRow[],
  schema: Record<string, string>,
): Record<string, unknown> | null {
  const out: Record<string, unknown[]> = {};
  for (const row of rows) {
    if (!row.field || row.value.trim() === "") continue;
    (out[row.field] ??= []).push(typedValue(schema[row.field], row.value));
  }
  const entries = Object.entries(out).map(([k, v]) => [k, v.length === 1 ? v[0] : v]);
  return entries.length ? Object.fromEntries(entries) : null;
}

/** Metadata filters: rows of a field of the index's schema and a value. */
export function FiltersEditor({
  rows,
  onChange,
  schema,
  error,
}: {
  rows: FilterRow[];
  onChange: (rows: FilterRow[]) => void;
  schema: Record<string, string>;
  error: unknown;
}) {
  const fields = Object.keys(schema);
  const set = (i: number, change: Partial<FilterRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const messages = isProblem(error) ? error.fields : {};
  return (
    <fieldset className="filters-editor" aria-describedby="filters-hint">
      <legend>Metadata filters</legend>
      <p id="filters-hint" className="hint">
        Hits whose document has these values; several rows of one field match any of them.
      </p>
      {rows.map((row, i) => {
        const message = row.field ? messages[`filters.${row.field}`] : undefined;
        const errorId = `filter-${i}-error`;
        return (
          <div className="field-row filter-row" key={i}>
            <div>
              <label htmlFor={`filter-field-${i}`}>Filter {i + 1} field</label>
              <select
                id={`filter-field-${i}`}
                value={row.field}
                onChange={(e) => set(i, { field: e.target.value })}
              >
                <option value="">(choose)</option>
                {fields.map((f) => (
                  <option key={f} value={f}>
                    {f} ({schema[f]})
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label htmlFor={`filter-value-${i}`}>Filter {i + 1} value</label>
              {schema[row.field] === "boolean" ? (
                <select
                  id={`filter-value-${i}`}
                  value={row.value}
                  onChange={(e) => set(i, { value: e.target.value })}
                >
                  <option value="">(choose)</option>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input
                  id={`filter-value-${i}`}
                  value={row.value}
                  onChange={(e) => set(i, { value: e.target.value })}
                  aria-invalid={message ? true : undefined}
                  aria-describedby={message ? errorId : undefined}
                />
              )}
              {message && (
                <p id={errorId} className="error field-error">
                  {message}
                </p>
              )}
            </div>
            <button
              type="button"
              className="secondary"
              onClick={() => onChange(rows.filter((_, j) => j !== i))}
            >
              Remove<span className="visually-hidden"> filter {i + 1}</span>
            </button>
          </div>
        );
      })}
      <button
        type="button"
        className="secondary add-row"
        onClick={() => onChange([...rows, { field: "", value: "" }])}
        disabled={fields.length === 0}
      >
        Add filter
      </button>
    </fieldset>
  );
}
