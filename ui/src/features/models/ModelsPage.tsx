import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { formatMs, formatPercent, formatTime } from "../settings/format";
import { ScrollRegion } from "../../components/ScrollRegion";
import { ProjectUsage } from "./ProjectUsage";
import "./models.css";

type Provider = components["schemas"]["ProviderPublic"];

/** How often the page asks the API again while auto-refresh is on (ms). */
export const REFRESH_MS = 5000;

const BREAKER_TEXT: Record<Provider["breaker_state"], string> = {
  closed: "closed",
  open: "open (skipped)",
  half_open: "half-open (probing)",
};

/** Every model deployment the gateway routes to (``GET /models/providers``): health, the
 * circuit breaker, rolling p50/p95 latency and error rate, the last provider error and the
 * last periodic health check. Refreshes itself every few seconds. */
export function ModelsPage() {
  const [auto, setAuto] = useState(true);
  const providers = useQuery({
    queryKey: ["models", "providers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/models/providers")),
    refetchInterval: auto ? REFRESH_MS : false,
  });

  return (
    <>
      <h1>Models and providers</h1>
      <p className="muted">
        Each deployment of the model list, as this API process's gateway sees it: latency and error
        rate over its last 200 calls within 5 minutes; the health check is the periodic one-token
        probe (Temporal Schedule <code>provider-health-check</code>
        {": "}
        <ScheduleLink scheduleId="provider-health-check" />
        ).
      </p>
      <div className="models-toolbar">
        <label className="inline-check">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} />
          Refresh every {REFRESH_MS / 1000} s
        </label>
        <button type="button" className="secondary" onClick={() => void providers.refetch()}>
          Refresh now
        </button>
        {providers.dataUpdatedAt > 0 && (
          <span className="muted">
            Updated {new Date(providers.dataUpdatedAt).toLocaleTimeString()}
          </span>
        )}
      </div>
      <ProblemBanner error={providers.error} />
      {providers.isPending ? (
        <Loading what="Loading deployments" />
      ) : providers.data && providers.data.count === 0 ? (
        <p className="muted">No model deployments are configured.</p>
      ) : (
        <ScrollRegion label="Model deployments table">
          <table className="data models-table">
            <caption className="visually-hidden">Model deployments</caption>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Provider</th>
                <th scope="col">Health</th>
                <th scope="col">Breaker</th>
                <th scope="col">p50</th>
                <th scope="col">p95</th>
                <th scope="col">Error rate</th>
                <th scope="col">Last health check</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {providers.data?.data.map((p) => (
                <tr key={p.model_name}>
                  <th scope="row">
                    <code>{p.model_name}</code>
                  </th>
                  <td>{p.provider ?? "—"}</td>
                  <td>
                    <span className={`status-badge status-${p.health}`}>{p.health}</span>
                  </td>
                  <td>
                    <span className={`status-badge breaker-${p.breaker_state}`}>
                      {BREAKER_TEXT[p.breaker_state]}
                    </span>
                  </td>
                  <td>{formatMs(p.p50_latency_ms)}</td>
                  <td>{formatMs(p.p95_latency_ms)}</td>
                  <td>
                    {formatPercent(p.error_rate)}
                    <span className="muted small">
                      {" "}
                      ({p.errors} of {p.calls} calls)
                    </span>
                  </td>
                  <td>
                    <HealthCheck check={p.last_check ?? null} />
                  </td>
                  <td>
                    {p.last_error ? (
                      <>
                        <span className="error">
                          {p.last_error_status ? `HTTP ${p.last_error_status}: ` : ""}
                          {p.last_error}
                        </span>
                        <br />
                        <span className="muted small">{formatTime(p.last_error_at)}</span>
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      <ProjectUsage />
    </>
  );
}

/** A Temporal Schedule in the Temporal Web UI (opens in a new tab). */
function ScheduleLink({ scheduleId }: { scheduleId: string }) {
  const me = useMe();
  if (!me.data) return null;
  const url =
    `${me.data.temporal_ui_url}/namespaces/${encodeURIComponent(me.data.temporal_namespace)}` +
    `/schedules/${encodeURIComponent(scheduleId)}`;
  return (
    <a href={url} target="_blank" rel="noreferrer">
      open in Temporal UI<span className="visually-hidden"> (opens in a new tab)</span>
    </a>
  );
}

function HealthCheck({ check }: { check: Provider["last_check"] }) {
  if (!check) return <span className="muted">not yet run</span>;
  return (
    <>
      <span className={`status-badge ${check.ok ? "status-healthy" : "status-down"}`}>
        {check.ok ? "passed" : "failed"}
      </span>{" "}
      {formatMs(check.latency_ms)}
      {check.status_code ? ` · HTTP ${check.status_code}` : ""}
      <br />
      <span className="muted small">{formatTime(check.checked_at)}</span>
      {check.error && (
        <>
          <br />
          <span className="error">{check.error}</span>
        </>
      )}
    </>
  );
}
