// The API's 4xx answers as something a form can show: a message, and one per field.
// FastAPI's shape is {"detail": "text"} or {"detail": [{"loc": [...], "msg": "..."}]}.

export interface ApiProblem {
  status: number;
  message: string;
  fields: Record<string, string>;
}

interface DetailItem {
  loc?: (string | number)[];
  msg?: string;
}

/** Where FastAPI found the value: the first element of a `loc`, not part of the field's name
 * (a body field may itself be called `path`, e.g. `source.path`). */
const LOCATIONS = new Set(["body", "query", "path", "header", "cookie"]);

function fieldOf(loc: (string | number)[] | undefined): string | null {
  if (!loc || loc.length === 0) return null;
  const parts = LOCATIONS.has(String(loc[0])) ? loc.slice(1) : loc;
  return parts.length ? parts.join(".") : null;
}

/** Turn an error body (as openapi-fetch returns it) and its status into an ApiProblem. */
export function toProblem(error: unknown, status: number): ApiProblem {
  const fields: Record<string, string> = {};
  let message = `Request failed (HTTP ${status})`;
  const detail = (error as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") {
    message = detail;
  } else if (Array.isArray(detail)) {
    const items = detail as DetailItem[];
    for (const item of items) {
      const field = fieldOf(item.loc);
      if (field && item.msg && !(field in fields)) fields[field] = item.msg;
    }
    const first = items[0];
    if (first?.msg) message = fieldOf(first.loc) ? `${fieldOf(first.loc)}: ${first.msg}` : first.msg;
  } else if ((error as { error?: { message?: string } } | null)?.error?.message) {
    message = (error as { error: { message: string } }).error.message;
  }
  return { status, message, fields };
}

/** Raise an ApiProblem for a failed openapi-fetch result, else return its data. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw toProblem(result.error, result.response.status);
  }
  return result.data as T;
}

export function isProblem(value: unknown): value is ApiProblem {
  return typeof value === "object" && value !== null && "status" in value && "fields" in value;
}
