// Metadata values typed as text, converted to the type the index's schema declares.

/** Fields the ingestion sets on every document itself. */
export const AUTOMATIC_FIELDS = ["section", "media_type"];

/** `text` as a value of schema type `type`: numbers and booleans parsed; text that does not
 * parse is sent as it is, for the API to refuse next to its field. */
export function typedValue(type: string | undefined, text: string): unknown {
  const t = text.trim();
  if (type === "integer" || type === "number") {
    const n = Number(t);
    return t !== "" && Number.isFinite(n) ? n : t;
  }
  if (type === "boolean") {
    if (t === "true") return true;
    if (t === "false") return false;
    return t;
  }
  return text;
}

/** The non-blank `values` as a metadata object typed by `schema`. */
export function metadataValues(
  schema: Record<string, string>,
  values: Record<string, string>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values)
      .filter(([, v]) => v.trim() !== "")
      .map(([name, v]) => [name, typedValue(schema[name], v)]),
  );
}
