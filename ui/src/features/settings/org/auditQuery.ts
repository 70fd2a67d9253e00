// The audit log's filters live in the page's URL (shareable, kept on reload); these turn them
// into GET /audit's query.
import { localInputToIso } from "../format";

export const AUDIT_FILTERS = [
  "since",
  "until",
  "actor",
  "action",
  "entity_type",
  "entity_id",
  "request_id",
] as const;
export type AuditFilter = (typeof AUDIT_FILTERS)[number];
export const AUDIT_PAGE_SIZE = 50;

export interface AuditQuery {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  entity_type?: string;
  entity_id?: string;
  request_id?: string;
  before_id?: number;
  limit: number;
}

/** GET /audit's query from the URL's search params: blank filters left out, ``since`` and
 * ``until`` (a ``datetime-local`` value, the viewer's local time) as ISO 8601 UTC, the page
 * cursor ``before_id`` as a number. */
export function auditQuery(params: URLSearchParams): AuditQuery {
  const query: AuditQuery = { limit: AUDIT_PAGE_SIZE };
  for (const name of AUDIT_FILTERS) {
    const value = params.get(name)?.trim();
    if (!value) continue;
    if (name === "since" || name === "until") {
      const iso = localInputToIso(value);
      if (iso) query[name] = iso;
    } else {
      query[name] = value;
    }
  }
  const before = Number(params.get("before_id"));
  if (Number.isInteger(before) && before > 0) query.before_id = before;
  return query;
}

/** The search params of a new set of filters (from the first page again). */
export function filtersToParams(filters: Partial<Record<AuditFilter, string>>): URLSearchParams {
  const params = new URLSearchParams();
  for (const name of AUDIT_FILTERS) {
    const value = filters[name]?.trim();
    if (value) params.set(name, value);
  }
  return params;
}
