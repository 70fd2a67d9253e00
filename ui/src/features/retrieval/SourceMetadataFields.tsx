import { FieldError, fieldInvalid } from "../../components/Problem";
import { AUTOMATIC_FIELDS } from "./metadata";

export { metadataValues } from "./metadata";

/** Metadata given to every document of a source: one input per field of the index's schema
 * (its own fields, not the automatic ones). Nothing when the index declares none. */
export function SourceMetadataFields({
  schema,
  values,
  onChange,
  error,
}: {
  schema: Record<string, string>;
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  error: unknown;
}) {
  const fields = Object.entries(schema).filter(([name]) => !AUTOMATIC_FIELDS.includes(name));
  if (fields.length === 0) return null;
  return (
    <fieldset>
      <legend>Metadata of every document</legend>
      <div className="field-row">
        {fields.map(([name, type], i) => {
          const id = `source-meta-${i}`;
          const field = `source.metadata.${name}`;
          const set = (v: string) => onChange({ ...values, [name]: v });
          return (
            <div key={name}>
              <label htmlFor={id}>
                {name} <span className="hint">({type})</span>
              </label>
              {type === "boolean" ? (
                <select
                  id={id}
                  value={values[name] ?? ""}
                  onChange={(e) => set(e.target.value)}
                  aria-describedby={`${id}-error`}
                >
                  <option value="">(not set)</option>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input
                  id={id}
                  type={type === "string" ? "text" : "number"}
                  step="any"
                  value={values[name] ?? ""}
                  onChange={(e) => set(e.target.value)}
                  aria-invalid={fieldInvalid(error, field)}
                  aria-describedby={`${id}-error`}
                />
              )}
              <FieldError error={error} field={field} id={`${id}-error`} />
            </div>
          );
        })}
      </div>
    </fieldset>
  );
}
