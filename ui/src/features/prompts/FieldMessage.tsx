import { isProblem } from "../../api/errors";

/** The API's answer to a form, next to the field it concerns: the message for `field`, or,
 * when `orWhole` is set and the API named no field at all (a 409 or 403), its whole message.
 * role=alert so a screen reader hears it when it appears. */
export function FieldMessage({
  error,
  field,
  id,
  orWhole = false,
}: {
  error: unknown;
  field: string;
  id: string;
  orWhole?: boolean;
}) {
  const text = messageFor(error, field, orWhole);
  if (!text) return null;
  return (
    <p id={id} className="error field-error" role="alert">
      {text}
    </p>
  );
}

export function messageFor(error: unknown, field: string, orWhole = false): string | null {
  if (!error) return null;
  if (!isProblem(error)) return orWhole && error instanceof Error ? error.message : null;
  if (error.fields[field]) return error.fields[field];
  if (orWhole && Object.keys(error.fields).length === 0) return error.message;
  return null;
}

export function invalid(error: unknown, field: string, orWhole = false): true | undefined {
  return messageFor(error, field, orWhole) ? true : undefined;
}
