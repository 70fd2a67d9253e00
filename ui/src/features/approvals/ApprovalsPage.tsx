import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime, relativeTime } from "../../components/time";
import "./approvals.css";
import {
  ALL_STATUSES,
  OPEN_STATUSES,
  checkState,
  reviewBlock,
  splitQueue,
  type Approval,
} from "./queue";

async function fetchApprovals(filter: string): Promise<Approval[]> {
  const statuses = filter === "open" ? OPEN_STATUSES : filter === "all" ? [undefined] : [filter];
  const pages = await Promise.all(
    statuses.map(async (status) =>
      unwrap(await api.GET("/api/v1/approvals", { params: { query: { status, limit: 200 } } })),
    ),
  );
  return pages
    .flatMap((p) => p.data)
    .sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? ""));
}

/** The approvals queue: what waits for the caller's review, the other open approvals (and
 * why the caller cannot decide them), or every approval of a status. */
export function ApprovalsPage() {
  const me = useMe();
  const [filter, setFilter] = useState("open");
  const approvals = useQuery({
    queryKey: ["approvals", filter],
    queryFn: () => fetchApprovals(filter),
    refetchInterval: 5000,
  });
  const { mine, others } = splitQueue(approvals.data ?? [], me.data?.actor, me.data?.role);

  return (
    <>
      <div className="page-head">
        <h1>Approvals</h1>
        {atLeast(me.data?.role, "Editor") && (
          <Link className="button-link" to="/approvals/new">
            Submit a version for approval
          </Link>
        )}
      </div>
      <div className="filters">
        <label htmlFor="approvals-filter">Show</label>
        <select id="approvals-filter" value={filter} onChange={(e) => setFilter(e.target.value)}>
          <option value="open">Open (checking or waiting for reviews)</option>
          {ALL_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s === "CheckFailed" ? "Check failed" : s}
            </option>
          ))}
          <option value="all">All</option>
        </select>
      </div>
      <ProblemBanner error={approvals.error} />
      {approvals.isPending ? (
        <Loading what="Loading approvals" />
      ) : filter === "open" ? (
        <>
          <h2 id="mine">Waiting for your review ({mine.length})</h2>
          {mine.length === 0 ? (
            <p className="muted">Nothing waits for your review.</p>
          ) : (
            <ApprovalTable rows={mine} labelledBy="mine" />
          )}
          <h2 id="others">Other open approvals ({others.length})</h2>
          {others.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <ApprovalTable rows={others} labelledBy="others" why />
          )}
        </>
      ) : (approvals.data ?? []).length === 0 ? (
        <p className="muted">No approvals.</p>
      ) : (
        <ApprovalTable rows={approvals.data ?? []} caption="Approvals" />
      )}
    </>
  );
}

function ApprovalTable({
  rows,
  labelledBy,
  caption,
  why = false,
}: {
  rows: Approval[];
  labelledBy?: string;
  caption?: string;
  why?: boolean;
}) {
  const me = useMe();
  return (
    <table aria-labelledby={labelledBy}>
      {caption && <caption className="visually-hidden">{caption}</caption>}
      <thead>
        <tr>
          <th scope="col">Prompt version</th>
          <th scope="col">Status</th>
          <th scope="col">Golden-set check</th>
          <th scope="col">Approvals</th>
          <th scope="col">Requested by</th>
          <th scope="col">Deadline</th>
          {why && <th scope="col">Why not you</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => {
          const check = checkState(a);
          return (
            <tr key={a.id}>
              <td>
                <Link to={`/approvals/${encodeURIComponent(a.id)}`}>
                  {a.prompt_name ?? "prompt"} v{a.version ?? "?"}
                </Link>
                <div className="muted small">by {a.author ?? "unknown"}</div>
              </td>
              <td>
                <StatusBadge status={a.status} />
              </td>
              <td>
                <span className={`check check-${check.tone}`}>{check.text}</span>
              </td>
              <td>
                {a.approvals} of {a.required_approvals}
              </td>
              <td>
                {a.requested_by ?? "—"}
                <div className="muted small">{formatTime(a.created_at)}</div>
              </td>
              <td>
                {a.deadline_at && OPEN_STATUSES.includes(a.status) ? (
                  <time dateTime={a.deadline_at} title={formatTime(a.deadline_at)}>
                    {relativeTime(a.deadline_at)}
                  </time>
                ) : (
                  "—"
                )}
              </td>
              {why && <td>{reviewBlock(a, me.data?.actor, me.data?.role)}</td>}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
