import { isProblem } from "../api/errors";

/** An error box (role=alert) for a failed request: the API's message, never a blank page. */
export function ProblemBanner({ error }: { error: unknown }) {
  if (!error) return null;
  const message = isProblem(error)
    ? error.message
    : error instanceof Error
      ? error.message
      : "Something went wrong.";
  return (
    <div role="alert" className="banner error">
      {message}
    </div>
  );
}

/** The API's message for one field of a failed form, next to that field. */
export function FieldError({ error, field, id }: { error: unknown; field: string; id: string }) {
  if (!isProblem(error) || !error.fields[field]) return null;
  return (
    <p id={id} className="error field-error">
      {error.fields[field]}
    </p>
  );
}

export function fieldInvalid(error: unknown, field: string): boolean | undefined {
  return isProblem(error) && field in error.fields ? true : undefined;
}
