import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { StatusBadge } from "../../components/StatusBadge";
import { TemporalLink } from "../../components/TemporalLink";
import { formatTime, relativeTime } from "../../components/time";
import type { PromptVersion } from "../../components/VersionPicker";
import "./approvals.css";
import { DiffView } from "./DiffView";
import { goldenFigures } from "./golden";
import { OPEN_STATUSES, checkState, reviewBlock, type Approval } from "./queue";

/** The label whose version a candidate is compared with. */
const COMPARE_LABEL = "production";

/** One approval for its reviewers: the version's content and its changes against what
 * production serves, the policy, the golden-set check, the decisions so far, and the
 * approve/reject form. Follows the running workflow live until it ends. */
export function ApprovalReviewPage() {
  const { approvalId = "" } = useParams();
  const approval = useQuery({
    queryKey: ["approval", approvalId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/approvals/{approval_id}", {
          params: { path: { approval_id: approvalId } },
        }),
      ),
    refetchInterval: (q) => (q.state.data && q.state.data.phase === "done" ? false : 2000),
  });
  const a = approval.data;
  const version = useQuery({
    queryKey: ["version", a?.prompt_version_id],
    enabled: Boolean(a),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompt_versions/{version_id}", {
          params: { path: { version_id: a!.prompt_version_id } },
        }),
      ),
  });

  if (approval.isPending) return <Loading what="Loading the approval" />;
  if (!a) {
    return (
      <>
        <h1>Approval</h1>
        <ProblemBanner error={approval.error} />
        <Link to="/approvals">Back to the approvals</Link>
      </>
    );
  }
  const title = `${a.prompt_name ?? "Prompt"} v${a.version ?? "?"}`;
  return (
    <>
      <p className="crumbs">
        <Link to="/approvals">Approvals</Link> / {title}
      </p>
      <div className="page-head">
        <h1>Review {title}</h1>
        <StatusBadge status={a.status} />
        {a.status === "Approved" && (
          <Link className="button-link" to={`/rollouts/new?version=${a.prompt_version_id}`}>
            Deploy v{a.version ?? "?"}
          </Link>
        )}
      </div>
      <ProblemBanner error={approval.error} />
      <dl className="facts">
        <div>
          <dt>Author</dt>
          <dd>{a.author ?? "—"}</dd>
        </div>
        <div>
          <dt>Requested by</dt>
          <dd>{a.requested_by ?? "—"}</dd>
        </div>
        <div>
          <dt>Submitted</dt>
          <dd>{formatTime(a.created_at)}</dd>
        </div>
        <div>
          <dt>Deadline</dt>
          <dd>
            {a.deadline_at ? (
              <>
                {formatTime(a.deadline_at)}
                {OPEN_STATUSES.includes(a.status) && ` (${relativeTime(a.deadline_at)})`}
              </>
            ) : (
              "—"
            )}
          </dd>
        </div>
        <div>
          <dt>Workflow</dt>
          <dd>
            <TemporalLink workflowId={a.workflow_id} label={a.workflow_id} />
          </dd>
        </div>
      </dl>
      {a.reason && (
        <p className={`banner ${a.status === "Approved" ? "note" : "warn"}`}>
          <strong>Outcome:</strong> {a.reason}
        </p>
      )}
      <div className="review-grid">
        <div>
          <VersionContent version={version.data} error={version.error} />
          {version.data && <LabelDiff version={version.data} />}
        </div>
        <div>
          <PolicyAndCheck approval={a} />
          <Decisions approval={a} />
          <DecisionForm approval={a} />
        </div>
      </div>
    </>
  );
}

function VersionContent({ version, error }: { version?: PromptVersion; error: unknown }) {
  return (
    <section aria-labelledby="content-h" className="panel">
      <h2 id="content-h">Content</h2>
      <ProblemBanner error={error} />
      {!version ? (
        !error && <Loading what="Loading the version" />
      ) : (
        <>
          {version.system && (
            <>
              <h3>System</h3>
              <pre className="prompt-text">{version.system}</pre>
            </>
          )}
          <h3>Body</h3>
          <pre className="prompt-text">{version.body}</pre>
          <dl className="facts compact">
            <div>
              <dt>Variables</dt>
              <dd>
                {Object.keys(version.variables).length
                  ? Object.entries(version.variables)
                      .map(([k, v]) => `${k}: ${String(v)}`)
                      .join(", ")
                  : "none"}
              </dd>
            </div>
            <div>
              <dt>Model</dt>
              <dd>{version.model ?? "the project's default"}</dd>
            </div>
            <div>
              <dt>Decoding</dt>
              <dd>
                {Object.keys(version.decoding).length
                  ? Object.entries(version.decoding)
                      .filter(([, v]) => v !== null)
                      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
                      .join(", ")
                  : "defaults"}
              </dd>
            </div>
            {version.notes && (
              <div>
                <dt>Notes</dt>
                <dd>{version.notes}</dd>
              </div>
            )}
          </dl>
        </>
      )}
    </section>
  );
}

/** The version against the one the production label serves (when another one does). */
function LabelDiff({ version }: { version: PromptVersion }) {
  const diff = useQuery({
    queryKey: ["label-diff", version.prompt_id, version.id],
    queryFn: async () => {
      const labels = unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/labels", {
          params: { path: { prompt_id: version.prompt_id } },
        }),
      );
      const label = labels.data.find((l) => l.name === COMPARE_LABEL);
      if (!label || label.prompt_version_id === version.id) return { label, served: null };
      const served = unwrap(
        await api.GET("/api/v1/prompt_versions/{version_id}", {
          params: { path: { version_id: label.prompt_version_id } },
        }),
      );
      const changes = unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/diff", {
          params: {
            path: { prompt_id: version.prompt_id },
            query: { from: served.version, to: version.version },
          },
        }),
      );
      return { label, served, changes };
    },
  });
  return (
    <section aria-labelledby="diff-h" className="panel">
      <h2 id="diff-h">Changes against {COMPARE_LABEL}</h2>
      <ProblemBanner error={diff.error} />
      {diff.isPending ? (
        <Loading what="Loading the diff" />
      ) : !diff.data?.label ? (
        <p className="muted">No version serves {COMPARE_LABEL} yet: this would be the first.</p>
      ) : !diff.data.served || !diff.data.changes ? (
        <p className="muted">This version already serves {COMPARE_LABEL}.</p>
      ) : (
        <>
          <p className="muted">
            v{diff.data.served.version} (serving {COMPARE_LABEL}) → v{version.version}
          </p>
          <DiffView
            diff={diff.data.changes.body_diff}
            label={`Body changes from v${diff.data.served.version} to v${version.version}`}
          />
          {Object.keys(diff.data.changes.fields).length > 0 && (
            <table>
              <caption>Other changed fields</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">v{diff.data.served.version}</th>
                  <th scope="col">v{version.version}</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(diff.data.changes.fields).map(([name, change]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      <code>{JSON.stringify(change.from)}</code>
                    </td>
                    <td>
                      <code>{JSON.stringify(change.to)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function PolicyAndCheck({ approval: a }: { approval: Approval }) {
  const check = checkState(a);
  const dataset = useQuery({
    queryKey: ["dataset", a.golden_dataset_id],
    enabled: Boolean(a.golden_dataset_id),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/datasets/{dataset_id}", {
          params: { path: { dataset_id: a.golden_dataset_id! } },
        }),
      ),
  });
  const reviewers = a.reviewers ?? [];
  return (
    <section aria-labelledby="policy-h" className="panel">
      <h2 id="policy-h">Policy and check</h2>
      <dl className="facts compact">
        <div>
          <dt>Approvals needed</dt>
          <dd>
            {a.approvals} of {a.required_approvals}
          </dd>
        </div>
        <div>
          <dt>Reviewers</dt>
          <dd>{reviewers.length ? reviewers.join(", ") : "any Editor or Admin but the author"}</dd>
        </div>
        <div>
          <dt>Golden set</dt>
          <dd>
            {a.golden_dataset_id ? (dataset.data?.name ?? a.golden_dataset_id) : "no check"}
          </dd>
        </div>
        {a.eval_metric && (
          <div>
            <dt>Metric and threshold</dt>
            <dd>
              {a.eval_metric} ≥ {a.min_eval_score?.toFixed(2)}
            </dd>
          </div>
        )}
        <div>
          <dt>Check result</dt>
          <dd>
            <span className={`check check-${check.tone}`}>{check.text}</span>
          </dd>
        </div>
        {a.evaluation_id && (
          <div>
            <dt>Evaluation</dt>
            <dd>
              <Link to={`/evaluations/${encodeURIComponent(a.evaluation_id)}`}>
                {a.evaluation_id}
              </Link>
              <br />
              <TemporalLink workflowId={a.evaluation_id} label="Its workflow in Temporal UI" />
            </dd>
          </div>
        )}
      </dl>
      {a.evaluation_id && (
        <GoldenSetFigures
          evaluationId={a.evaluation_id}
          versionId={a.prompt_version_id}
          metric={a.eval_metric}
        />
      )}
    </section>
  );
}

/** The golden-set evaluation's figures for this version: progress while it runs, then each
 * metric with its 95% bootstrap interval, examples, errors, latency and cost. */
function GoldenSetFigures({
  evaluationId,
  versionId,
  metric,
}: {
  evaluationId: string;
  versionId: string;
  metric?: string | null;
}) {
  const evaluation = useQuery({
    queryKey: ["evaluation", evaluationId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/evals/{evaluation_id}", {
          params: { path: { evaluation_id: evaluationId } },
        }),
      ),
    refetchInterval: (q) => (q.state.data && q.state.data.summary ? false : 3000),
  });
  const e = evaluation.data;
  const figures = e ? goldenFigures(e.summary, versionId, metric) : null;
  const f2 = (v: number) => v.toFixed(2);
  return (
    <>
      <h3>Golden-set evaluation</h3>
      <ProblemBanner error={evaluation.error} />
      {!e ? (
        !evaluation.error && <Loading what="Loading the evaluation" />
      ) : !figures ? (
        <p>
          {e.status}: {e.progress.done} of {e.progress.total} examples
          {e.error ? ` (${e.error})` : ""}
        </p>
      ) : (
        <>
          <table className="golden-figures">
            <caption className="visually-hidden">Golden-set metrics with 95% intervals</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col">Value</th>
                <th scope="col">95% interval</th>
              </tr>
            </thead>
            <tbody>
              {figures.metrics.map((m) => (
                <tr key={m.name}>
                  <th scope="row">{m.name}</th>
                  <td>{f2(m.value)}</td>
                  <td>{m.low != null && m.high != null ? `${f2(m.low)} – ${f2(m.high)}` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">
            {figures.n ?? "?"} examples, {figures.errors ?? 0} errors
            {figures.p50 != null && figures.p95 != null
              ? `; latency p50 ${Math.round(figures.p50)} ms, p95 ${Math.round(figures.p95)} ms`
              : ""}
            {figures.costUsd != null ? `; cost $${figures.costUsd.toFixed(4)}` : ""}
          </p>
        </>
      )}
    </>
  );
}

function Decisions({ approval: a }: { approval: Approval }) {
  const decisions = a.decisions ?? [];
  return (
    <section aria-labelledby="decisions-h" className="panel">
      <h2 id="decisions-h">Decisions</h2>
      {decisions.length === 0 ? (
        <p className="muted">No decision yet.</p>
      ) : (
        <ul className="decisions">
          {decisions.map((d) => (
            <li key={`${d.reviewer}-${d.decision}`}>
              <span className={`badge badge-${d.decision === "approve" ? "good" : "bad"}`}>
                {d.decision === "approve" ? "Approved" : "Rejected"}
              </span>{" "}
              <strong>{d.reviewer}</strong>{" "}
              <span className="muted small">{formatTime(d.decided_at)}</span>
              {d.comment && <blockquote>{d.comment}</blockquote>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const DECISIONS = {
  approve: "/api/v1/prompt_versions/{version_id}/approve",
  reject: "/api/v1/prompt_versions/{version_id}/reject",
} as const;

/** Approve or reject with a comment (Editor+). The API judges: an author's approval, a second
 * decision or a rejection without a comment come back with its reason, shown here. */
function DecisionForm({ approval: a }: { approval: Approval }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [comment, setComment] = useState("");
  const decide = useMutation({
    mutationFn: async (decision: keyof typeof DECISIONS) =>
      unwrap(
        await api.POST(DECISIONS[decision], {
          params: { path: { version_id: a.prompt_version_id } },
          body: { comment },
        }),
      ),
    onSuccess: async (updated) => {
      setComment("");
      queryClient.setQueryData(["approval", a.id], (old: Approval | undefined) =>
        old ? { ...old, ...updated, id: old.id } : updated,
      );
      await queryClient.invalidateQueries({ queryKey: ["approvals"] });
    },
  });
  if (!atLeast(me.data?.role, "Editor")) return null;
  if (!OPEN_STATUSES.includes(a.status)) {
    // The caller's decision closed it: say so where the form was.
    return decide.isSuccess ? (
      <p role="status" className="ok panel">
        Decision recorded: the version is {a.status}.
      </p>
    ) : null;
  }
  const block = reviewBlock(a, me.data?.actor, me.data?.role);

  return (
    <section className="panel" aria-labelledby="decide-h">
      <h2 id="decide-h">Your decision</h2>
      {block && <p className="muted">Note: {block}; the API will say if it refuses.</p>}
      <ProblemBanner error={decide.error} />
      {decide.isSuccess && (
        <p role="status" className="ok">
          Decision recorded.
        </p>
      )}
      <label htmlFor="decision-comment">Comment</label>
      <textarea
        id="decision-comment"
        rows={3}
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        aria-invalid={fieldInvalid(decide.error, "comment")}
        aria-describedby="decision-comment-hint decision-comment-error"
      />
      <p id="decision-comment-hint" className="muted small">
        Required to reject; kept with the decision.
      </p>
      <FieldError error={decide.error} field="comment" id="decision-comment-error" />
      <div className="actions">
        <button type="button" disabled={decide.isPending} onClick={() => decide.mutate("approve")}>
          Approve
        </button>
        <button
          type="button"
          className="danger"
          disabled={decide.isPending}
          onClick={() => decide.mutate("reject")}
        >
          Reject
        </button>
      </div>
    </section>
  );
}
