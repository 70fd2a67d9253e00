import { isProblem } from "../../api/errors";

/** The API's message for a field or any part of it (``candidates`` also finds
 * ``candidates.0``), or undefined. */
export function fieldMessage(error: unknown, field: string): string | undefined {
  if (!isProblem(error)) return undefined;
  if (error.fields[field]) return error.fields[field];
  const key = Object.keys(error.fields).find((f) => f.startsWith(`${field}.`));
  return key ? error.fields[key] : undefined;
}

/** ``FieldError`` for a field and its parts: the message next to the control it concerns. */
export function FieldMessage({ error, field, id }: { error: unknown; field: string; id: string }) {
  const message = fieldMessage(error, field);
  if (!message) return null;
  return (
    <p id={id} className="error field-error">
      {message}
    </p>
  );
}

/** ``aria-invalid`` for a control whose field (or a part of it) the API refused. */
export function invalid(error: unknown, field: string): true | undefined {
  return fieldMessage(error, field) ? true : undefined;
}
