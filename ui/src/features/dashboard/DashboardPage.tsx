import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useRef } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap, type ApiProblem } from "../../api/errors";
import type { components } from "../../api/schema";
import { useMe } from "../../auth/me";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { Loading } from "../../components/Loading";
import { TimeSeriesChart } from "./TimeSeriesChart";
import { WINDOWS, bucketLabel, count, ms, percent, usd, type WindowName } from "./format";
import "./dashboard.css";

type Metrics = components["schemas"]["DashboardMetricsPublic"];
type Figures = components["schemas"]["DashboardFigures"];
type Dimension = "project" | "model" | "prompt_version";

/** The breakdowns the table offers, as the API's ``group_by``. */
const BREAKDOWNS: Record<string, { label: string; dims: Dimension[] }> = {
  all: { label: "Project, model and prompt version", dims: ["project", "model", "prompt_version"] },
  project: { label: "Project", dims: ["project"] },
  model: { label: "Model", dims: ["model"] },
  prompt_version: { label: "Prompt version", dims: ["prompt_version"] },
  "project,model": { label: "Project and model", dims: ["project", "model"] },
};

/** The filters, kept in the address (so a view can be shared and survives a reload). */
function useFilters() {
  const [params, setParams] = useSearchParams();
  const windowName = (params.get("window") ?? "24h") as WindowName;
  const filters = {
    windowName: windowName in WINDOWS || windowName === "custom" ? windowName : "24h",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    bucket: (params.get("bucket") === "day" ? "day" : "hour") as "hour" | "day",
    project: params.get("project") ?? "",
    model: params.get("model") ?? "",
    version: params.get("version") ?? "",
    by: params.get("by") && params.get("by")! in BREAKDOWNS ? params.get("by")! : "all",
  };
  function set(changes: Partial<Record<string, string>>) {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  }
  return { filters, set };
}

type Filters = ReturnType<typeof useFilters>["filters"];

/** ``datetime-local`` values are read as UTC (the buckets are UTC). */
function utc(local: string): string | undefined {
  return local ? `${local}${local.length === 16 ? ":00" : ""}Z` : undefined;
}

function metricsQuery(f: Filters) {
  const preset = f.windowName === "custom" ? null : WINDOWS[f.windowName];
  const bucket = preset ? preset.bucket : f.bucket;
  // A preset ends now: start is now minus its span, rounded down to the minute so the query
  // key (and the cache) stay the same for a minute.
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const start = preset ? new Date(now - preset.hours * 3_600_000).toISOString() : utc(f.from);
  const end = preset ? undefined : utc(f.to);
  return {
    bucket,
    start,
    end,
    project_id: f.project || undefined,
    model: f.model || undefined,
    prompt_version_id: f.version || undefined,
    group_by: BREAKDOWNS[f.by].dims,
  } as const;
}

function FigureCard({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div className="figure-card">
      <dt>{label}</dt>
      <dd>
        <span className="figure-value">{value}</span>
        {detail && <span className="figure-detail">{detail}</span>}
      </dd>
    </div>
  );
}

function Cards({ totals }: { totals: Figures }) {
  return (
    <dl className="figure-cards" aria-label="Figures of the window">
      <FigureCard label="Runs" value={count(totals.runs)} />
      <FigureCard
        label="Success rate"
        value={percent(totals.success_rate)}
        detail={`${count(totals.runs - totals.successes)} failed`}
      />
      <FigureCard label="Latency p50" value={ms(totals.latency_p50_ms)} />
      <FigureCard label="Latency p95" value={ms(totals.latency_p95_ms)} />
      <FigureCard
        label="Cost"
        value={usd(totals.cost_usd)}
        detail={totals.cost_per_run_usd !== null ? `${usd(totals.cost_per_run_usd)} a run` : ""}
      />
      <FigureCard
        label="Tokens"
        value={count(totals.tokens)}
        detail={`${count(totals.tokens_in)} in · ${count(totals.tokens_out)} out`}
      />
      <FigureCard
        label="Cache hit rate"
        value={percent(totals.cache_hit_rate)}
        detail={`${count(totals.cache_hits)} hits`}
      />
    </dl>
  );
}

function Charts({ data }: { data: Metrics }) {
  const times = data.series.map((p) => p.bucket_start);
  const fmt = (t: string) => bucketLabel(t, data.bucket);
  return (
    <div className="charts">
      <TimeSeriesChart
        title="Runs"
        times={times}
        formatTime={fmt}
        format={count}
        series={[{ label: "Runs", values: data.series.map((p) => p.runs) }]}
      />
      <TimeSeriesChart
        title="Latency"
        times={times}
        formatTime={fmt}
        format={ms}
        series={[
          { label: "p50", values: data.series.map((p) => p.latency_p50_ms) },
          { label: "p95", values: data.series.map((p) => p.latency_p95_ms), className: "line-b" },
        ]}
      />
      <TimeSeriesChart
        title="Cost (USD)"
        times={times}
        formatTime={fmt}
        format={usd}
        series={[{ label: "Cost", values: data.series.map((p) => (p.runs ? p.cost_usd : null)) }]}
      />
      <TimeSeriesChart
        title="Success and cache hit rate"
        times={times}
        formatTime={fmt}
        format={percent}
        series={[
          { label: "success", values: data.series.map((p) => p.success_rate) },
          {
            label: "cache hits",
            values: data.series.map((p) => p.cache_hit_rate),
            className: "line-b",
          },
        ]}
      />
    </div>
  );
}

function GroupsTable({ data }: { data: Metrics }) {
  const dims = new Set(data.group_by);
  if (data.groups.length === 0) return <p className="muted">No runs in this window.</p>;
  return (
    <div className="table-scroll">
      <table className="groups">
        <caption className="visually-hidden">Figures by group</caption>
        <thead>
          <tr>
            {dims.has("project") && <th scope="col">Project</th>}
            {dims.has("model") && <th scope="col">Model</th>}
            {dims.has("prompt_version") && <th scope="col">Prompt version</th>}
            <th scope="col" className="num">Runs</th>
            <th scope="col" className="num">Success</th>
            <th scope="col" className="num">p50</th>
            <th scope="col" className="num">p95</th>
            <th scope="col" className="num">Tokens</th>
            <th scope="col" className="num">Cost</th>
            <th scope="col" className="num">Cache hits</th>
          </tr>
        </thead>
        <tbody>
          {data.groups.map((g) => (
            <tr key={`${g.project_id}|${g.model}|${g.prompt_version_id}`}>
              {dims.has("project") && <td>{g.project_name}</td>}
              {dims.has("model") && <td>{g.model}</td>}
              {dims.has("prompt_version") && (
                <td>
                  {g.prompt_version_id ? (
                    `${g.prompt_name} v${g.version}`
                  ) : (
                    <span className="muted">no prompt version</span>
                  )}
                </td>
              )}
              <td className="num">{count(g.runs)}</td>
              <td className="num">{percent(g.success_rate)}</td>
              <td className="num">{ms(g.latency_p50_ms)}</td>
              <td className="num">{ms(g.latency_p95_ms)}</td>
              <td className="num">{count(g.tokens)}</td>
              <td className="num">{usd(g.cost_usd)}</td>
              <td className="num">{percent(g.cache_hit_rate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Where the figures come from, and the Temporal schedule that folds the rollups. */
function Provenance({ data }: { data: Metrics }) {
  const me = useMe();
  const schedule = me.data
    ? `${me.data.temporal_ui_url}/namespaces/${encodeURIComponent(me.data.temporal_namespace)}` +
      "/schedules/run-rollup-fold"
    : null;
  return (
    <p className="muted provenance">
      {new Date(data.start).toISOString().slice(0, 16).replace("T", " ")} to{" "}
      {new Date(data.end).toISOString().slice(0, 16).replace("T", " ")} UTC, by {data.bucket}.
      Served from the pre-aggregated run rollups; p50/p95 within{" "}
      {(data.latency_relative_error * 100).toFixed(0)} % of the exact latency.{" "}
      {schedule && (
        <a href={schedule} target="_blank" rel="noreferrer">
          Rollup schedule in Temporal UI
          <span className="visually-hidden"> (opens in a new tab)</span>
        </a>
      )}
    </p>
  );
}

/** A filter that picks one of ``choices`` (or all), with the API's message for ``field`` under
 * it; a chosen value missing from the choices (a shared address) is kept as it is. */
function ChoiceFilter(props: {
  id: string;
  label: string;
  all: string;
  field: string;
  error: ApiProblem | null;
  value: string;
  onChange: (value: string) => void;
  choices: { value: string; label: string }[];
}) {
  const { id, value, choices } = props;
  return (
    <div>
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={fieldInvalid(props.error, props.field)}
        aria-describedby={`${id}-error`}
      >
        <option value="">{props.all}</option>
        {value && !choices.some((c) => c.value === value) && <option value={value}>{value}</option>}
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
      <FieldError error={props.error} field={props.field} id={`${id}-error`} />
    </div>
  );
}

/** The dashboard: latency, cost, tokens, success and cache hit rates of the runs the key may
 * see, by project, model, prompt version and time window. */
export function DashboardPage() {
  const { filters, set } = useFilters();
  const query = metricsQuery(filters);
  const metrics = useQuery({
    queryKey: ["dashboard", query],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/dashboards/metrics", { params: { query } })),
    placeholderData: keepPreviousData,
    retry: false,
  });
  const error = metrics.error as ApiProblem | null;
  const data = metrics.data;
  // The filter lists stay filled while a refused filter is corrected.
  const lastOptions = useRef<Metrics["options"] | undefined>(undefined);
  if (data) lastOptions.current = data.options;
  const options = data?.options ?? lastOptions.current;
  const versions = (options?.prompt_versions ?? []).filter(
    (v) => !filters.project || v.project_id === filters.project,
  );
  const projectName = (id: string) => options?.projects.find((p) => p.id === id)?.name ?? id;

  return (
    <>
      <h1>Dashboard</h1>
      <form className="dashboard-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="dash-window">Window</label>
          <select
            id="dash-window"
            value={filters.windowName}
            onChange={(e) => set({ window: e.target.value })}
            aria-invalid={fieldInvalid(error, "start")}
            aria-describedby="dash-window-error"
          >
            {Object.entries(WINDOWS).map(([name, w]) => (
              <option key={name} value={name}>
                {w.label}
              </option>
            ))}
            <option value="custom">Custom (UTC)</option>
          </select>
          {filters.windowName !== "custom" && (
            <FieldError error={error} field="start" id="dash-window-error" />
          )}
        </div>
        {filters.windowName === "custom" && (
          <>
            <div>
              <label htmlFor="dash-from">From (UTC)</label>
              <input
                id="dash-from"
                type="datetime-local"
                value={filters.from}
                onChange={(e) => set({ from: e.target.value })}
                aria-invalid={fieldInvalid(error, "start")}
                aria-describedby="dash-from-error"
              />
              <FieldError error={error} field="start" id="dash-from-error" />
            </div>
            <div>
              <label htmlFor="dash-to">To (UTC)</label>
              <input
                id="dash-to"
                type="datetime-local"
                value={filters.to}
                onChange={(e) => set({ to: e.target.value })}
                aria-invalid={fieldInvalid(error, "end")}
                aria-describedby="dash-to-error"
              />
              <FieldError error={error} field="end" id="dash-to-error" />
            </div>
            <div>
              <label htmlFor="dash-bucket">Bucket</label>
              <select
                id="dash-bucket"
                value={filters.bucket}
                onChange={(e) => set({ bucket: e.target.value })}
              >
                <option value="hour">Hour</option>
                <option value="day">Day</option>
              </select>
            </div>
          </>
        )}
        <ChoiceFilter
          id="dash-project"
          label="Project"
          all="All projects"
          field="project_id"
          error={error}
          value={filters.project}
          onChange={(v) => set({ project: v, version: "" })}
          choices={(options?.projects ?? []).map((p) => ({ value: p.id, label: p.name }))}
        />
        <ChoiceFilter
          id="dash-model"
          label="Model"
          all="All models"
          field="model"
          error={error}
          value={filters.model}
          onChange={(v) => set({ model: v })}
          choices={(options?.models ?? []).map((m) => ({ value: m, label: m }))}
        />
        <ChoiceFilter
          id="dash-version"
          label="Prompt version"
          all="All prompt versions"
          field="prompt_version_id"
          error={error}
          value={filters.version}
          onChange={(v) => set({ version: v })}
          choices={versions.map((v) => ({
            value: v.id,
            label: `${filters.project ? "" : `${projectName(v.project_id)} / `}${v.prompt_name} v${v.version}`,
          }))}
        />
      </form>
      {error && !Object.keys(error.fields ?? {}).length && <ProblemBanner error={error} />}
      {error && Object.keys(error.fields ?? {}).length > 0 && (
        <p role="alert" className="banner error">
          Check the filters: {error.message}
        </p>
      )}
      {metrics.isPending ? (
        <Loading what="Loading the dashboard" />
      ) : data ? (
        <div className={metrics.isFetching ? "dashboard-body refreshing" : "dashboard-body"}>
          <section aria-labelledby="dash-figures">
            <h2 id="dash-figures" className="visually-hidden">
              Figures
            </h2>
            <Cards totals={data.totals} />
          </section>
          <section aria-labelledby="dash-series">
            <h2 id="dash-series">Over time</h2>
            <Charts data={data} />
          </section>
          <section aria-labelledby="dash-groups" className="dashboard-groups">
            <div className="groups-head">
              <h2 id="dash-groups">By group</h2>
              <div>
                <label htmlFor="dash-by">Break down by</label>
                <select id="dash-by" value={filters.by} onChange={(e) => set({ by: e.target.value })}>
                  {Object.entries(BREAKDOWNS).map(([name, b]) => (
                    <option key={name} value={name}>
                      {b.label}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <GroupsTable data={data} />
          </section>
          <Provenance data={data} />
        </div>
      ) : null}
    </>
  );
}
