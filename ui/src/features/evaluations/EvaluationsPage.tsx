import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { ProblemBanner } from "../../components/Problem";
import { ProjectSwitcher, rememberProject, useProject } from "../../components/ProjectSwitcher";
import { NewEvaluationForm } from "./NewEvaluationForm";
import { StatusBadge } from "./StatusBadge";
import "./evaluations.css";

const PAGE = 25;

/** The project's evaluations with their status (refreshed while any runs), and the form
 * that starts one (Editor). */
export function EvaluationsPage() {
  const { projectId = "" } = useParams();
  const [search] = useSearchParams();
  const me = useMe();
  const [offset, setOffset] = useState(0);
  useEffect(() => rememberProject(projectId), [projectId]);
  const project = useProject(projectId);
  const evaluations = useQuery({
    queryKey: ["evaluations", projectId, offset],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/evals", {
          params: { query: { project_id: projectId, offset, limit: PAGE } },
        }),
      ),
    placeholderData: (previous) => previous,
    refetchInterval: (query) =>
      query.state.data?.data.some((e) => e.status === "Running") ? 3000 : false,
  });
  return (
    <>
      <h1>Evaluations{project.data ? ` · ${project.data.name}` : ""}</h1>
      <ProjectSwitcher projectId={projectId} page="evaluations" />
      <ProblemBanner error={project.error ?? evaluations.error} />
      {evaluations.isPending ? (
        <Loading what="Loading evaluations" />
      ) : evaluations.data && evaluations.data.count === 0 ? (
        <p className="muted">No evaluations in this project yet.</p>
      ) : (
        evaluations.data && (
          <>
            <table>
              <caption className="visually-hidden">Evaluations of the project</caption>
              <thead>
                <tr>
                  <th scope="col">Evaluation</th>
                  <th scope="col">Status</th>
                  <th scope="col">Dataset</th>
                  <th scope="col">Versions</th>
                  <th scope="col">Metrics</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {evaluations.data.data.map((e) => (
                  <tr key={e.id}>
                    <td className="eval-id">
                      <Link to={`/evaluations/${encodeURIComponent(e.id)}`}>{e.id}</Link>
                    </td>
                    <td>
                      <StatusBadge status={e.status} />
                    </td>
                    <td>
                      <Link to={`/datasets/${e.dataset_id}`}>{e.dataset_name ?? e.dataset_id}</Link>
                    </td>
                    <td>{e.versions.map((v) => `${v.prompt_name} v${v.version}`).join(", ")}</td>
                    <td>{e.metrics.join(", ")}</td>
                    <td>{new Date(e.created_at).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager
              offset={offset}
              limit={PAGE}
              count={evaluations.data.count}
              onChange={setOffset}
              label="Pages of evaluations"
            />
          </>
        )
      )}
      {atLeast(me.data?.role, "Editor") && (
        <NewEvaluationForm
          key={projectId}
          projectId={projectId}
          initialDataset={search.get("dataset") ?? undefined}
        />
      )}
    </>
  );
}
