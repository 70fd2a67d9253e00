import { FieldError, fieldInvalid } from "../../components/Problem";

/** One input per variable the version declares (name -> its declared type, e.g. "str"),
 * with the API's message for that variable (`variables.<name>`) next to it, and its message
 * for the variables as a whole (`variables`) under them. */
export function VariablesForm({
  declared,
  values,
  onChange,
  error,
}: {
  declared: Record<string, unknown>;
  values: Record<string, string>;
  onChange: (name: string, value: string) => void;
  error: unknown;
}) {
  const names = Object.keys(declared);
  return (
    <fieldset className="variables" aria-describedby="variables-error">
      <legend>Variables</legend>
      {names.length === 0 ? (
        <p className="muted">This version declares no variables.</p>
      ) : (
        names.map((name) => {
          const id = `var-${name}`;
          const field = `variables.${name}`;
          const kind = typeof declared[name] === "string" ? (declared[name] as string) : "";
          return (
            <div key={name} className="variable">
              <label htmlFor={id}>
                {name}
                {kind && <span className="muted type"> ({kind})</span>}
              </label>
              <textarea
                id={id}
                rows={2}
                value={values[name] ?? ""}
                onChange={(e) => onChange(name, e.target.value)}
                aria-invalid={fieldInvalid(error, field)}
                aria-describedby={`${id}-error`}
              />
              <FieldError error={error} field={field} id={`${id}-error`} />
            </div>
          );
        })
      )}
      <p className="muted hint">An empty field is not sent: the API names what is missing.</p>
      <FieldError error={error} field="variables" id="variables-error" />
    </fieldset>
  );
}

/** A field's text as the declared type asks: numbers for int/float/number, true/false for
 * bool, JSON for list/dict/object/json; anything that does not parse stays text (the
 * template then says what it makes of it). */
export function coerce(kind: unknown, value: string): unknown {
  const type = typeof kind === "string" ? kind.trim().toLowerCase() : "";
  if (["int", "float", "number", "integer"].includes(type)) {
    const n = Number(value);
    return value.trim() !== "" && Number.isFinite(n) ? n : value;
  }
  if (type === "bool" || type === "boolean") {
    if (value.trim().toLowerCase() === "true") return true;
    if (value.trim().toLowerCase() === "false") return false;
    return value;
  }
  if (["list", "dict", "object", "array", "json"].includes(type)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/** The values to send: empty fields left out (so the API can name a missing one), the rest
 * as their declared types ask (see `coerce`). */
export function filledVariables(
  values: Record<string, string>,
  declared: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(declared)) {
    const value = values[name];
    if (value !== undefined && value !== "") out[name] = coerce(kind, value);
  }
  return out;
}
