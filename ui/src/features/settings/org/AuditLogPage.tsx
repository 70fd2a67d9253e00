import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { Loading } from "../../../components/Loading";
import { ProblemBanner } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { FieldMessage, invalid } from "../fields";
import { formatTime } from "../format";
import { AUDIT_FILTERS, auditQuery, filtersToParams, type AuditFilter } from "./auditQuery";
import { ScrollRegion } from "../../../components/ScrollRegion";

type Entry = components["schemas"]["AuditEntryPublic"];

const LABELS: Record<AuditFilter, string> = {
  since: "From (your local time)",
  until: "Until (exclusive)",
  actor: "Actor (email)",
  action: "Action",
  entity_type: "Entity type",
  entity_id: "Entity id",
  request_id: "Request id",
};
const PLACEHOLDERS: Partial<Record<AuditFilter, string>> = {
  action: "api_key.create",
  entity_type: "api_key",
};

/** The organization's append-only audit log (Admin), newest first, filtered by time range,
 * actor, action, entity and request id, a page at a time. */
export function AuditLogPage() {
  const me = useMe();
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      {me.isPending ? null : atLeast(me.data?.role, "Admin") ? (
        <AuditLog />
      ) : (
        <RoleNote needed="Admin" what="read the audit log" />
      )}
    </section>
  );
}

function AuditLog() {
  const [params, setParams] = useSearchParams();
  // The cursors of the newer pages we came through, to page back.
  const [trail, setTrail] = useState<string[]>([]);
  const query = auditQuery(params);
  const entries = useQuery({
    queryKey: ["audit", query],
    queryFn: async () => unwrap(await api.GET("/api/v1/audit", { params: { query } })),
  });
  const [draft, setDraft] = useState<Partial<Record<AuditFilter, string>>>(() =>
    Object.fromEntries(AUDIT_FILTERS.map((f) => [f, params.get(f) ?? ""])),
  );

  function apply(event: FormEvent) {
    event.preventDefault();
    setTrail([]);
    setParams(filtersToParams(draft));
  }
  function clear() {
    setDraft({});
    setTrail([]);
    setParams(new URLSearchParams());
  }
  function page(before: string | null) {
    const next = new URLSearchParams(params);
    if (before) next.set("before_id", before);
    else next.delete("before_id");
    setParams(next);
  }
  function older(nextBefore: number) {
    setTrail([...trail, params.get("before_id") ?? ""]);
    page(String(nextBefore));
  }
  function newer() {
    const previous = trail[trail.length - 1] ?? "";
    setTrail(trail.slice(0, -1));
    page(previous || null);
  }

  return (
    <>
      <form
        onSubmit={apply}
        className="card audit-filters"
        aria-labelledby="audit-filters"
        noValidate
      >
        <h3 id="audit-filters">Filters</h3>
        <div className="filter-grid">
          {AUDIT_FILTERS.map((f) => (
            <div key={f}>
              <label htmlFor={`audit-${f}`}>{LABELS[f]}</label>
              <input
                id={`audit-${f}`}
                type={f === "since" || f === "until" ? "datetime-local" : "text"}
                value={draft[f] ?? ""}
                placeholder={PLACEHOLDERS[f]}
                onChange={(e) => setDraft({ ...draft, [f]: e.target.value })}
                aria-invalid={invalid(entries.error, f)}
                aria-describedby={`audit-${f}-error`}
              />
              <FieldMessage error={entries.error} field={f} id={`audit-${f}-error`} />
            </div>
          ))}
        </div>
        <div className="form-actions">
          <button type="submit">Apply filters</button>
          <button type="button" className="secondary" onClick={clear}>
            Clear
          </button>
        </div>
      </form>
      <ProblemBanner error={entries.error} />
      {entries.isPending ? (
        <Loading what="Loading the audit log" />
      ) : entries.data && entries.data.count === 0 ? (
        <p className="muted">No entries match these filters.</p>
      ) : entries.data ? (
        <>
          <AuditTable
            entries={entries.data.data}
            onRequest={(id) => {
              setDraft({ request_id: id });
              setTrail([]);
              setParams(filtersToParams({ request_id: id }));
            }}
          />
          <nav aria-label="Audit log pages" className="pager">
            <button
              type="button"
              className="secondary"
              disabled={trail.length === 0}
              onClick={newer}
            >
              Newer
            </button>
            <span className="muted">
              {entries.data.count} entr{entries.data.count === 1 ? "y" : "ies"} on this page
            </span>
            <button
              type="button"
              className="secondary"
              disabled={entries.data.next_before_id === null}
              onClick={() => entries.data.next_before_id && older(entries.data.next_before_id)}
            >
              Older
            </button>
          </nav>
        </>
      ) : null}
    </>
  );
}

function AuditTable({ entries, onRequest }: { entries: Entry[]; onRequest: (id: string) => void }) {
  return (
    <ScrollRegion label="Audit entries">
      <table className="data audit-table">
        <caption className="visually-hidden">Audit entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Entity</th>
            <th scope="col">Request</th>
            <th scope="col">Change</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td className="nowrap">{formatTime(e.created_at)}</td>
              <td>{e.actor}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.entity_type} <span className="muted small mono entity-id">{e.entity_id}</span>
              </td>
              <td>
                {e.request_id ? (
                  <button
                    type="button"
                    className="link-button mono small"
                    onClick={() => onRequest(e.request_id as string)}
                    aria-label={`Show every entry of request ${e.request_id}`}
                  >
                    {e.request_id}
                  </button>
                ) : (
                  "—"
                )}
              </td>
              <td>
                <Change before={e.before} after={e.after} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

function Change({ before, after }: { before: Entry["before"]; after: Entry["after"] }) {
  if (!before && !after) return <span className="muted">—</span>;
  return (
    <details>
      <summary>{before && after ? "before / after" : after ? "after" : "before"}</summary>
      {before && (
        <>
          <p className="small muted">Before</p>
          <pre>{JSON.stringify(before, null, 2)}</pre>
        </>
      )}
      {after && (
        <>
          <p className="small muted">After</p>
          <pre>{JSON.stringify(after, null, 2)}</pre>
        </>
      )}
    </details>
  );
}
