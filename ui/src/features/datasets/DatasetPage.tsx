import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { ExamplesTable } from "./ExamplesTable";
import { ImportExamples } from "./ImportExamples";
import "./datasets.css";

/** One dataset: what it is, an import form (Editor) and its examples. */
export function DatasetPage() {
  const { datasetId = "" } = useParams();
  const me = useMe();
  const dataset = useQuery({
    queryKey: ["dataset", datasetId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/datasets/{dataset_id}", {
          params: { path: { dataset_id: datasetId } },
        }),
      ),
  });
  const projectId = dataset.data?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);
  if (dataset.isPending) return <Loading what="Loading the dataset" />;
  if (dataset.error || !dataset.data) {
    return (
      <>
        <h1>Dataset</h1>
        <ProblemBanner error={dataset.error} />
      </>
    );
  }
  const d = dataset.data;
  const editor = atLeast(me.data?.role, "Editor");
  return (
    <>
      <p className="breadcrumb">
        <Link to={`/projects/${d.project_id}/datasets`}>Datasets</Link> /
      </p>
      <h1>{d.name}</h1>
      <dl className="facts">
        <div>
          <dt>Task</dt>
          <dd>{d.task_type}</dd>
        </div>
        <div>
          <dt>Examples</dt>
          <dd>{d.example_count}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{new Date(d.created_at).toLocaleString()}</dd>
        </div>
      </dl>
      {d.description && <p>{d.description}</p>}
      {editor && d.example_count > 0 && (
        <p>
          <Link to={`/projects/${d.project_id}/evaluations?dataset=${d.id}`}>
            Evaluate prompt versions on this dataset
          </Link>
        </p>
      )}
      {editor && <ImportExamples datasetId={d.id} />}
      <h2>Examples</h2>
      <ExamplesTable datasetId={d.id} />
    </>
  );
}
