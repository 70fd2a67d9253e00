import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { StatusBadge } from "../../components/StatusBadge";
import { TemporalLink } from "../../components/TemporalLink";
import { formatDuration, formatTime } from "../../components/time";
import { METRICS, series, useChecks, type ArmFigures, type Check, type Plan } from "./checks";
import { ChartLegend, GuardChart } from "./GuardChart";
import "./rollouts.css";

export type Deployment = components["schemas"]["DeploymentPublic"];
type Live = components["schemas"]["CanaryStatus"];

export const ACTIVE = ["Pending", "Running", "Paused"];
const ENDED_AS: Record<string, string> = {
  Promoted: "Promoted",
  RolledBack: "Rolled back",
  Aborted: "Aborted",
};

/** One canary rollout: what it is doing now (step, weights, bake clock), the plan and its
 * guards, the guard figures per arm over time, why it ended, and the operator's controls. */
export function RolloutPage() {
  const { deploymentId = "" } = useParams();
  const deployment = useQuery({
    queryKey: ["deployment", deploymentId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/deployments/{deployment_id}", {
          params: { path: { deployment_id: deploymentId } },
        }),
      ),
    refetchInterval: (q) => (q.state.data && !ACTIVE.includes(q.state.data.status) ? false : 2000),
  });
  const d = deployment.data;
  const active = Boolean(d && ACTIVE.includes(d.status));
  const checks = useChecks(deploymentId, active);

  if (deployment.isPending) return <Loading what="Loading the rollout" />;
  if (!d) {
    return (
      <>
        <h1>Rollout</h1>
        <ProblemBanner error={deployment.error} />
        <Link to="/rollouts">Back to the rollouts</Link>
      </>
    );
  }
  const title = `${d.prompt_name ?? "Prompt"} v${d.candidate_version ?? "?"} to ${d.environment}`;
  return (
    <>
      <p className="crumbs">
        <Link to="/rollouts">Rollouts</Link> / {title}
      </p>
      <div className="page-head">
        <h1>{title}</h1>
        <StatusBadge status={d.status} />
      </div>
      <ProblemBanner error={deployment.error} />
      <dl className="facts">
        <div>
          <dt>Baseline</dt>
          <dd>{d.baseline_version != null ? `v${d.baseline_version}` : "none (first rollout)"}</dd>
        </div>
        <div>
          <dt>Started by</dt>
          <dd>{d.created_by}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(d.created_at)}</dd>
        </div>
        {d.completed_at && (
          <div>
            <dt>Ended</dt>
            <dd>{formatTime(d.completed_at)}</dd>
          </div>
        )}
        <div>
          <dt>Workflow</dt>
          <dd>
            <TemporalLink workflowId={d.workflow_id} label={d.workflow_id} />
          </dd>
        </div>
      </dl>
      {d.reason && ENDED_AS[d.status] && (
        <div className={`banner ${d.status === "Promoted" ? "note" : "warn"}`}>
          <strong>{ENDED_AS[d.status]}:</strong> {d.reason}
        </div>
      )}
      <div className="rollout-grid">
        <TrafficNow deployment={d} />
        {active && <OperatorActions deployment={d} />}
        {d.status === "Promoted" && <EmergencyRollback deployment={d} />}
      </div>
      <PlanTable deployment={d} checks={checks.data ?? []} />
      <LatestFigures live={d.live ?? null} checks={checks.data ?? []} />
      <section aria-labelledby="charts-h">
        <h2 id="charts-h">Guard figures over time</h2>
        <p className="muted">
          One point per guard check; figures are cumulative over the current step&apos;s bake
          window{active ? " and update as checks come in" : ""}.
        </p>
        <ProblemBanner error={checks.error} />
        {checks.isPending ? (
          <Loading what="Loading the checks" />
        ) : (checks.data ?? []).length === 0 ? (
          <p className="muted">
            No checks {active ? "yet: the first comes one check interval into a bake" : "stored"}.
          </p>
        ) : (
          <>
            <ChartLegend />
            <div className="charts">
              {METRICS.map((m) => (
                <GuardChart
                  key={m.key}
                  metric={m}
                  guard={m.guard(d.plan)}
                  live={active}
                  points={series(checks.data ?? [], m, d.plan)}
                />
              ))}
            </div>
            <ChecksTable checks={checks.data ?? []} />
          </>
        )}
      </section>
    </>
  );
}

function TrafficNow({ deployment: d }: { deployment: Deployment }) {
  const live = d.live;
  const canary = live ? (live.weights.canary ?? d.canary_weight) : d.canary_weight;
  const steps = d.plan.steps ?? [];
  const step = live ? live.step_index : d.current_step;
  return (
    <section aria-labelledby="now-h" className="panel">
      <h2 id="now-h">Traffic now</h2>
      <p>
        {step >= 0 ? (
          <>
            Step <strong>{step + 1}</strong> of {steps.length}
            {steps[step] != null && ` (${steps[step]}% planned)`}
          </>
        ) : (
          "Not started yet"
        )}
        {live?.paused && (
          <>
            {" "}
            · <strong>paused</strong>
          </>
        )}
      </p>
      <div
        className="weights"
        role="img"
        aria-label={`Canary ${canary}% of traffic, baseline ${100 - canary}%`}
      >
        <span className="weight-canary" style={{ width: `${canary}%` }} />
        <span className="weight-baseline" style={{ width: `${100 - canary}%` }} />
      </div>
      <p className="weights-text">
        Canary <strong>{canary}%</strong> · baseline <strong>{100 - canary}%</strong>
      </p>
      {live && live.bake_time_s > 0 && (
        <>
          <label htmlFor="bake-progress">
            Bake: {formatDuration(live.bake_elapsed_s)} of {formatDuration(live.bake_time_s)}
          </label>
          <progress id="bake-progress" max={live.bake_time_s} value={live.bake_elapsed_s} />
          <p className="muted small">
            {live.checks} checks so far, one every {formatDuration(live.check_interval_s)}; last{" "}
            {formatTime(live.last_check_at)}
          </p>
        </>
      )}
      {live && live.breaches.length > 0 && (
        <>
          <h3>Breaches at the last check</h3>
          <ul>
            {live.breaches.map((b) => (
              <li key={b.guard}>{b.message}</li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

const OPERATIONS = {
  pause: "/api/v1/deployments/{deployment_id}/pause",
  resume: "/api/v1/deployments/{deployment_id}/resume",
  promote: "/api/v1/deployments/{deployment_id}/promote",
  abort: "/api/v1/deployments/{deployment_id}/abort",
} as const;

/** Pause, resume, promote now, abort (Editor+). Abort needs a reason; the API's refusals
 * (an ended rollout, the eval-score gate, a missing reason) are shown here. */
function OperatorActions({ deployment: d }: { deployment: Deployment }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const [confirmPromote, setConfirmPromote] = useState(false);
  const act = useMutation({
    mutationFn: async (action: keyof typeof OPERATIONS) =>
      unwrap(
        await api.POST(OPERATIONS[action], {
          params: { path: { deployment_id: d.id } },
          body: { reason },
        }),
      ),
    onSuccess: async () => {
      setReason("");
      setConfirmPromote(false);
      await queryClient.invalidateQueries({ queryKey: ["deployment", d.id] });
      await queryClient.invalidateQueries({ queryKey: ["deployments"] });
    },
  });
  if (!atLeast(me.data?.role, "Editor")) return null;
  const paused = d.status === "Paused";
  return (
    <section aria-labelledby="ops-h" className="panel">
      <h2 id="ops-h">Operate</h2>
      <ProblemBanner error={act.error} />
      {act.isSuccess && (
        <p role="status" className="ok">
          Request sent to the workflow.
        </p>
      )}
      <label htmlFor="operator-reason">Reason</label>
      <input
        id="operator-reason"
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        aria-invalid={fieldInvalid(act.error, "reason")}
        aria-describedby="operator-reason-hint operator-reason-error"
      />
      <p id="operator-reason-hint" className="muted small">
        Kept in the audit log; required to abort.
      </p>
      <FieldError error={act.error} field="reason" id="operator-reason-error" />
      <div className="actions">
        <button
          type="button"
          className="secondary-button"
          disabled={act.isPending}
          onClick={() => act.mutate(paused ? "resume" : "pause")}
        >
          {paused ? "Resume" : "Pause"}
        </button>
        {confirmPromote ? (
          <button type="button" disabled={act.isPending} onClick={() => act.mutate("promote")}>
            Confirm: promote to 100% now
          </button>
        ) : (
          <button
            type="button"
            className="secondary-button"
            disabled={act.isPending}
            onClick={() => setConfirmPromote(true)}
          >
            Promote now
          </button>
        )}
        <button
          type="button"
          className="danger"
          disabled={act.isPending}
          onClick={() => act.mutate("abort")}
        >
          Abort
        </button>
      </div>
    </section>
  );
}

/** After a promotion to prod: the Admin's emergency rollback of ``production`` to the
 * baseline (POST /prompts/{id}/labels/production/rollback), with a reason. */
function EmergencyRollback({ deployment: d }: { deployment: Deployment }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const rollback = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/prompts/{prompt_id}/labels/{name}/rollback", {
          params: { path: { prompt_id: d.prompt_id, name: "production" } },
          body: { prompt_version_id: d.baseline_version_id!, reason },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["deployment", d.id] }),
  });
  if (d.environment !== "prod" || !d.baseline_version_id || !atLeast(me.data?.role, "Admin")) {
    return null;
  }
  return (
    <section aria-labelledby="rollback-h" className="panel">
      <h2 id="rollback-h">Emergency rollback</h2>
      <p className="muted">
        Point <code>production</code> back at the baseline v{d.baseline_version} (Admin; the
        reason goes into the audit log).
      </p>
      <ProblemBanner error={rollback.error} />
      {rollback.data && (
        <p role="status" className="ok">
          production serves v{rollback.data.version} again.
        </p>
      )}
      <label htmlFor="rollback-reason">Reason</label>
      <input
        id="rollback-reason"
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        aria-invalid={fieldInvalid(rollback.error, "reason")}
        aria-describedby="rollback-reason-error"
      />
      <FieldError error={rollback.error} field="reason" id="rollback-reason-error" />
      <button
        type="button"
        className="danger"
        disabled={rollback.isPending}
        onClick={() => rollback.mutate()}
      >
        Roll production back to v{d.baseline_version}
      </button>
    </section>
  );
}

function stepOutcome(d: Deployment, index: number, live: Live | null | undefined): string {
  const record = live?.history.find((h) => h.step_index === index);
  if (record?.outcome) return record.outcome.replace("_", " ");
  if (record) return d.status === "Paused" ? "paused" : "baking";
  if (index < d.current_step) return "passed";
  if (index === d.current_step) {
    if (d.status === "Promoted") return "promoted";
    if (d.status === "RolledBack") return "rolled back here";
    if (d.status === "Aborted") return "aborted here";
    return "current";
  }
  return ACTIVE.includes(d.status) ? "to come" : "not reached";
}

function PlanTable({ deployment: d, checks }: { deployment: Deployment; checks: Check[] }) {
  const plan: Plan = d.plan;
  const steps = plan.steps ?? [];
  const bakes = plan.bake_time_s ?? [];
  const interval = (i: number) =>
    plan.check_interval_s ?? Math.max(1, Math.min(Math.floor((bakes[i] ?? 0) / 4), 300));
  return (
    <section aria-labelledby="plan-h">
      <h2 id="plan-h">Plan</h2>
      <table>
        <caption className="visually-hidden">Steps of the plan</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Canary weight</th>
            <th scope="col">Bake time</th>
            <th scope="col">Check every</th>
            <th scope="col">Checks stored</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((percent, i) => (
            <tr key={i} aria-current={i === d.current_step && ACTIVE.includes(d.status) ? "step" : undefined}>
              <th scope="row">{i + 1}</th>
              <td>{percent}%</td>
              <td>{i < bakes.length ? formatDuration(bakes[i]) : "— (promotion)"}</td>
              <td>{i < bakes.length ? formatDuration(interval(i)) : "—"}</td>
              <td>{checks.filter((c) => c.step_index === i).length}</td>
              <td>{stepOutcome(d, i, d.live)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Guards</h3>
      <ul className="guards">
        {METRICS.map((m) => (
          <li key={m.key}>
            <strong>{m.title}:</strong> {m.guard(plan)}
          </li>
        ))}
      </ul>
    </section>
  );
}

const FIGURE_ROWS: { key: keyof ArmFigures; title: string; format: (v: number) => string }[] = [
  { key: "n", title: "Runs", format: (v) => String(v) },
  { key: "errors", title: "Errors", format: (v) => String(v) },
  { key: "error_rate", title: "Error rate", format: (v) => `${(v * 100).toFixed(1)}%` },
  { key: "p95_latency_ms", title: "p95 latency", format: (v) => `${Math.round(v)} ms` },
  { key: "mean_feedback", title: "Mean feedback", format: (v) => v.toFixed(2) },
  { key: "feedback_n", title: "Feedback values", format: (v) => String(v) },
  { key: "mean_outcome", title: "Mean outcome", format: (v) => v.toFixed(2) },
  { key: "eval_score", title: "Online eval score", format: (v) => v.toFixed(2) },
];

function LatestFigures({ live, checks }: { live: Live | null; checks: Check[] }) {
  const last = checks[checks.length - 1];
  const baseline = live?.figures.baseline ?? last?.baseline;
  const canary = live?.figures.canary ?? last?.canary;
  if (!baseline || !canary) return null;
  const show = (arm: ArmFigures, key: keyof ArmFigures, format: (v: number) => string) => {
    const v = arm[key];
    return typeof v === "number" ? format(v) : "—";
  };
  return (
    <section aria-labelledby="latest-h">
      <h2 id="latest-h">Latest guard figures</h2>
      <p className="muted">
        {live?.last_check_at
          ? `At the last check, ${formatTime(live.last_check_at)}`
          : last
            ? `At check ${last.check_index}, ${formatTime(last.checked_at)}`
            : ""}
      </p>
      <table className="figures">
        <caption className="visually-hidden">Latest guard figures per arm</caption>
        <thead>
          <tr>
            <th scope="col">Figure</th>
            <th scope="col">Baseline</th>
            <th scope="col">Canary</th>
          </tr>
        </thead>
        <tbody>
          {FIGURE_ROWS.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.title}</th>
              <td>{show(baseline, r.key, r.format)}</td>
              <td>{show(canary, r.key, r.format)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ChecksTable({ checks }: { checks: Check[] }) {
  const cell = (v: number | null | undefined, f: (x: number) => string) =>
    v == null ? "—" : f(v);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const ms = (v: number) => `${Math.round(v)}`;
  const f2 = (v: number) => v.toFixed(2);
  return (
    <details className="checks-table">
      <summary>Every check as a table ({checks.length})</summary>
      <div className="table-scroll" role="region" aria-label="Checks" tabIndex={0}>
        <table>
          <caption className="visually-hidden">Guard figures at every check, per arm</caption>
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Time</th>
              <th scope="col">Canary %</th>
              <th scope="col">Runs (baseline / canary)</th>
              <th scope="col">Error rate (b / c)</th>
              <th scope="col">p95 ms (b / c)</th>
              <th scope="col">Feedback (b / c)</th>
              <th scope="col">Outcome (b / c)</th>
            </tr>
          </thead>
          <tbody>
            {checks.map((c) => (
              <tr key={c.check_index}>
                <th scope="row">{c.check_index}</th>
                <td>{formatTime(c.checked_at)}</td>
                <td>{c.canary_weight}</td>
                <td>
                  {c.baseline.n} / {c.canary.n}
                </td>
                <td>
                  {cell(c.baseline.error_rate, pct)} / {cell(c.canary.error_rate, pct)}
                </td>
                <td>
                  {cell(c.baseline.p95_latency_ms, ms)} / {cell(c.canary.p95_latency_ms, ms)}
                </td>
                <td>
                  {cell(c.baseline.mean_feedback, f2)} / {cell(c.canary.mean_feedback, f2)}
                </td>
                <td>
                  {cell(c.baseline.mean_outcome, f2)} / {cell(c.canary.mean_outcome, f2)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
