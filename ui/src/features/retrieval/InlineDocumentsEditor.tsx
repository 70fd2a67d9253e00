import { isProblem } from "../../api/errors";

export interface InlineRow {
  name: string;
  text: string;
}

/** The API's message about inline document `i` (`source.documents[i].name`, or pydantic's
 * `source.documents.i.name`), if any. */
function rowError(error: unknown, i: number): string | undefined {
  if (!isProblem(error)) return undefined;
  const hit = Object.entries(error.fields).find(
    ([key]) =>
      key.startsWith(`source.documents[${i}]`) || key.startsWith(`source.documents.${i}.`),
  );
  return hit?.[1];
}

/** Documents typed into the form: rows of name and text. */
export function InlineDocumentsEditor({
  rows,
  onChange,
  error,
}: {
  rows: InlineRow[];
  onChange: (rows: InlineRow[]) => void;
  error: unknown;
}) {
  const set = (i: number, change: Partial<InlineRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <div className="inline-docs">
      {rows.map((row, i) => {
        const message = rowError(error, i);
        const errorId = `inline-${i}-error`;
        return (
          <div className="inline-doc" key={i}>
            <label htmlFor={`inline-name-${i}`}>Document {i + 1} name</label>
            <input
              id={`inline-name-${i}`}
              value={row.name}
              placeholder="e.g. faq.md"
              onChange={(e) => set(i, { name: e.target.value })}
              aria-invalid={message ? true : undefined}
              aria-describedby={message ? errorId : undefined}
            />
            <label htmlFor={`inline-text-${i}`}>Document {i + 1} text</label>
            <textarea
              id={`inline-text-${i}`}
              rows={4}
              value={row.text}
              onChange={(e) => set(i, { text: e.target.value })}
            />
            {message && (
              <p id={errorId} className="error field-error">
                {message}
              </p>
            )}
            {rows.length > 1 && (
              <button
                type="button"
                className="secondary"
                onClick={() => onChange(rows.filter((_, j) => j !== i))}
              >
                Remove<span className="visually-hidden"> document {i + 1}</span>
              </button>
            )}
          </div>
        );
      })}
      <button
        type="button"
        className="secondary add-row"
        onClick={() => onChange([...rows, { name: "", text: "" }])}
      >
        Add document
      </button>
    </div>
  );
}
