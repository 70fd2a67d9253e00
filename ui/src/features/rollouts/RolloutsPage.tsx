import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { ACTIVE } from "./RolloutPage";
import "./rollouts.css";

const STATUSES = ["Pending", "Running", "Paused", "Promoted", "RolledBack", "Aborted"];
const ENVIRONMENTS = ["dev", "staging", "prod"] as const;

/** Every canary rollout of the organization (newest first), filtered by status and
 * environment; refreshed while any of them runs. */
export function RolloutsPage() {
  const me = useMe();
  const [status, setStatus] = useState("");
  const [environment, setEnvironment] = useState("");
  const deployments = useQuery({
    queryKey: ["deployments", status, environment],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/deployments", {
          params: {
            query: {
              status: status || undefined,
              environment: (environment || undefined) as (typeof ENVIRONMENTS)[number] | undefined,
              limit: 200,
            },
          },
        }),
      ),
    refetchInterval: (q) =>
      q.state.data?.data.some((d) => ACTIVE.includes(d.status)) ? 3000 : false,
  });
  const rows = deployments.data?.data ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Rollouts</h1>
        {atLeast(me.data?.role, "Editor") && (
          <Link className="button-link" to="/rollouts/new">
            Start a rollout
          </Link>
        )}
      </div>
      <div className="filters">
        <div>
          <label htmlFor="rollouts-status">Status</label>
          <select id="rollouts-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === "RolledBack" ? "Rolled back" : s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="rollouts-environment">Environment</label>
          <select
            id="rollouts-environment"
            value={environment}
            onChange={(e) => setEnvironment(e.target.value)}
          >
            <option value="">Any</option>
            {ENVIRONMENTS.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ProblemBanner error={deployments.error} />
      {deployments.isPending ? (
        <Loading what="Loading rollouts" />
      ) : rows.length === 0 ? (
        <p className="muted">No rollouts.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Rollouts</caption>
          <thead>
            <tr>
              <th scope="col">Rollout</th>
              <th scope="col">Environment</th>
              <th scope="col">Status</th>
              <th scope="col">Canary weight</th>
              <th scope="col">Step</th>
              <th scope="col">Started</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id}>
                <td className="rollout-name">
                  <Link to={`/rollouts/${d.id}`}>
                    {d.prompt_name ?? "prompt"} v{d.candidate_version ?? "?"}
                  </Link>
                  <div className="muted small">
                    over {d.baseline_version != null ? `v${d.baseline_version}` : "nothing yet"}
                  </div>
                </td>
                <td>{d.environment}</td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.canary_weight}%</td>
                <td className="nowrap">
                  {d.current_step >= 0
                    ? `${d.current_step + 1} of ${(d.plan.steps ?? []).length}`
                    : "—"}
                </td>
                <td>
                  {formatTime(d.created_at)}
                  <div className="muted small">by {d.created_by}</div>
                </td>
                <td className="reason">{d.reason || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
