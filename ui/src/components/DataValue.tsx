import { useState } from "react";

/** The text a JSON value shows: strings as they are, an object of scalars as "key: value"
 * lines, anything else as indented JSON. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.values(value as Record<string, unknown>).every(
      (v) => v === null || typeof v !== "object",
    )
  ) {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join("\n");
  }
  return JSON.stringify(value, null, 2);
}

/** A JSON value of a dataset or an evaluation (input, expected, output, metadata), cut at
 * `max` characters with a button to show the rest. */
export function DataValue({ value, max = 280 }: { value: unknown; max?: number }) {
  const [open, setOpen] = useState(false);
  const text = valueText(value);
  if (text === "") return <span className="muted">—</span>;
  const long = text.length > max;
  return (
    <div className="data-value">
      <span className="data-text">{long && !open ? `${text.slice(0, max)}…` : text}</span>
      {long && (
        <button
          type="button"
          className="link-button"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? "Show less" : `Show all ${text.length} characters`}
        </button>
      )}
    </div>
  );
}
