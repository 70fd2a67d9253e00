import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { ProjectSwitcher, rememberProject, useProject } from "../../components/ProjectSwitcher";
import { useDatasets } from "./queries";
import "./datasets.css";

/** The golden sets of a project, and a form to add one (Editor). */
export function DatasetsPage() {
  const { projectId = "" } = useParams();
  const me = useMe();
  useEffect(() => rememberProject(projectId), [projectId]);
  const project = useProject(projectId);
  const datasets = useDatasets(projectId);
  return (
    <>
      <h1>Datasets{project.data ? ` · ${project.data.name}` : ""}</h1>
      <ProjectSwitcher projectId={projectId} page="datasets" />
      <ProblemBanner error={project.error ?? datasets.error} />
      {datasets.isPending ? (
        <Loading what="Loading datasets" />
      ) : datasets.data && datasets.data.count === 0 ? (
        <p className="muted">No datasets in this project yet.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Datasets of the project</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Task</th>
              <th scope="col" className="num">
                Examples
              </th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {datasets.data?.data.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link to={`/datasets/${d.id}`}>{d.name}</Link>
                </td>
                <td>{d.task_type}</td>
                <td className="num">{d.example_count}</td>
                <td>{d.description}</td>
                <td>{new Date(d.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {atLeast(me.data?.role, "Editor") && <NewDatasetForm projectId={projectId} />}
    </>
  );
}

function NewDatasetForm({ projectId }: { projectId: string }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [taskType, setTaskType] = useState("generation");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/datasets", {
          body: { project_id: projectId, name, task_type: taskType, description },
        }),
      ),
    onSuccess: async () => {
      setName("");
      setDescription("");
      await queryClient.invalidateQueries({ queryKey: ["datasets", projectId] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <form onSubmit={submit} className="card new-dataset" aria-labelledby="new-dataset">
      <h2 id="new-dataset">New dataset</h2>
      <ProblemBanner error={create.error} />
      <label htmlFor="dataset-name">Name</label>
      <input
        id="dataset-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-invalid={fieldInvalid(create.error, "name")}
        aria-describedby="dataset-name-error"
        required
      />
      <FieldError error={create.error} field="name" id="dataset-name-error" />
      <label htmlFor="dataset-task">Task</label>
      <input
        id="dataset-task"
        list="dataset-task-kinds"
        value={taskType}
        onChange={(e) => setTaskType(e.target.value)}
        aria-invalid={fieldInvalid(create.error, "task_type")}
        aria-describedby="dataset-task-hint dataset-task-error"
        required
      />
      <datalist id="dataset-task-kinds">
        <option value="generation" />
        <option value="classification" />
      </datalist>
      <p id="dataset-task-hint" className="hint">
        e.g. generation (text metrics) or classification (label metrics)
      </p>
      <FieldError error={create.error} field="task_type" id="dataset-task-error" />
      <label htmlFor="dataset-description">Description</label>
      <input
        id="dataset-description"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
      <button type="submit" disabled={create.isPending}>
        Create dataset
      </button>
    </form>
  );
}
