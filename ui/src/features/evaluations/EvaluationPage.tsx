import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { TemporalLink } from "../../components/TemporalLink";
import { ComparisonTable } from "./ComparisonTable";
import { ExampleRows } from "./ExampleRows";
import { useMetricRegistry } from "./metrics";
import { ProgressPanel } from "./ProgressPanel";
import { StatusBadge } from "./StatusBadge";
import type { Summary } from "./summary";
import { versionLabel } from "./summary";
import "./evaluations.css";

const POLL_MS = 1000;

/** One evaluation: live progress while it runs (polled), cancel, the failure reason, the
 * comparison table and the per-example results once there is a summary. */
export function EvaluationPage() {
  const { evalId = "" } = useParams();
  const me = useMe();
  const queryClient = useQueryClient();
  const registry = useMetricRegistry();
  const evaluation = useQuery({
    queryKey: ["evaluation", evalId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/evals/{evaluation_id}", {
          params: { path: { evaluation_id: evalId }, query: { rows: 0 } },
        }),
      ),
    refetchInterval: (query) => (query.state.data?.status === "Running" ? POLL_MS : false),
  });
  const status = evaluation.data?.status;
  const projectId = evaluation.data?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);
  useEffect(() => {
    // The run ended: per-example rows and the project's list change with it.
    if (status && status !== "Running") {
      void queryClient.invalidateQueries({ queryKey: ["eval-examples", evalId] });
      void queryClient.invalidateQueries({ queryKey: ["evaluations"] });
    }
  }, [status, evalId, queryClient]);
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/evals/{evaluation_id}/cancel", {
          params: { path: { evaluation_id: evalId } },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["evaluation", evalId] });
    },
  });

  if (evaluation.isPending) return <Loading what="Loading the evaluation" />;
  if (evaluation.error || !evaluation.data) {
    return (
      <>
        <h1>Evaluation</h1>
        <ProblemBanner error={evaluation.error} />
      </>
    );
  }
  const e = evaluation.data;
  const running = e.status === "Running";
  const summary = e.summary as Summary | null | undefined;
  const versionIds = e.prompt_version_ids ?? [];
  const versions = e.versions ?? [];
  const metrics = e.metrics ?? [];
  return (
    <>
      {e.project_id && (
        <p className="breadcrumb">
          <Link to={`/projects/${e.project_id}/evaluations`}>Evaluations</Link> /
        </p>
      )}
      <h1>
        Evaluation <code>{e.id}</code>
      </h1>
      <div className="eval-header">
        <StatusBadge status={e.status} />
        <TemporalLink workflowId={e.id} label="Workflow in the Temporal UI" />
        {running && atLeast(me.data?.role, "Editor") && (
          <button
            type="button"
            className="secondary danger"
            onClick={() => cancel.mutate()}
            disabled={cancel.isPending || cancel.isSuccess}
          >
            {cancel.isSuccess ? "Cancelling…" : "Cancel evaluation"}
          </button>
        )}
      </div>
      <ProblemBanner error={cancel.error} />
      <dl className="facts">
        <div>
          <dt>Dataset</dt>
          <dd>
            {e.dataset_id ? (
              <Link to={`/datasets/${e.dataset_id}`}>{e.dataset_name ?? e.dataset_id}</Link>
            ) : (
              "—"
            )}
          </dd>
        </div>
        <div>
          <dt>Versions</dt>
          <dd>{versionIds.map((id) => versionLabel(id, versions)).join(", ")}</dd>
        </div>
        <div>
          <dt>Metrics</dt>
          <dd>{metrics.join(", ")}</dd>
        </div>
        {e.created_at && (
          <div>
            <dt>Started</dt>
            <dd>{new Date(e.created_at).toLocaleString()}</dd>
          </div>
        )}
        {e.completed_at && (
          <div>
            <dt>Finished</dt>
            <dd>{new Date(e.completed_at).toLocaleString()}</dd>
          </div>
        )}
      </dl>
      {e.status === "Failed" && (
        <div role="alert" className="banner error">
          <strong>The evaluation failed.</strong>{" "}
          {e.error ?? "Temporal did not say why: open the workflow for its history."}
        </div>
      )}
      {["Terminated", "TimedOut"].includes(e.status) && (
        <div role="alert" className="banner error">
          The workflow was {e.status === "TimedOut" ? "timed out" : "terminated"} before it
          finished; open it in the Temporal UI for its history.
        </div>
      )}
      {e.status === "Cancelled" && (
        <p className="muted">Cancelled: the examples finished before the cancel are summarised.</p>
      )}
      {(running || !summary) && (
        <ProgressPanel
          done={e.progress.done}
          total={e.progress.total}
          perVersion={e.progress.versions ?? []}
          versions={versions}
        />
      )}
      {summary && (summary.versions ?? []).length > 0 && (
        <section aria-labelledby="comparison-heading">
          <h2 id="comparison-heading">Comparison</h2>
          {registry.data ? (
            <ComparisonTable
              summary={summary}
              metrics={metrics}
              registry={registry.data.byName}
              versions={versions}
            />
          ) : (
            <ProblemBanner error={registry.error} />
          )}
          <p className="hint">
            95% percentile-bootstrap intervals over examples. Δ pairs each version with the
            baseline on the examples both ran: McNemar's exact test for accuracy, the paired
            bootstrap for every other metric. “better”/“worse”: p &lt; 0.05 in the metric's
            direction.
          </p>
        </section>
      )}
      <ExampleRows
        evaluationId={e.id}
        versionIds={versionIds}
        versions={versions}
        live={running}
      />
    </>
  );
}
