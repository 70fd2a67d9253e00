import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { PROJECT_LINKS } from "./projectLinks";
import "./prompts.css";

/** One project: its prompts (a form to add one, Editor+), its protected labels and links to
 * its other pages. */
export function ProjectPage() {
  const { projectId = "" } = useParams();
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const path = { params: { path: { project_id: projectId } } };
  // The navigation's project pages (Datasets, Evaluations, ...) open on this project next.
  useEffect(() => rememberProject(projectId), [projectId]);
  const project = useQuery({
    queryKey: ["project", projectId],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{project_id}", path)),
  });
  const prompts = useQuery({
    queryKey: ["prompts", projectId],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects/{project_id}/prompts", path)),
  });
  const protectedLabels = useQuery({
    queryKey: ["protected-labels", projectId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/projects/{project_id}/protected_labels", path)),
  });

  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/projects/{project_id}/prompts", {
          ...path,
          body: { name, description },
        }),
      ),
    onSuccess: async (prompt) => {
      await queryClient.invalidateQueries({ queryKey: ["prompts", projectId] });
      navigate(`/prompts/${prompt.id}`);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  if (project.isPending) return <Loading what="Loading the project" />;
  if (project.error) return <ProblemBanner error={project.error} />;

  return (
    <>
      <p className="breadcrumb">
        <Link to="/">Projects</Link> /
      </p>
      <h1>{project.data.name}</h1>
      {project.data.description && <p>{project.data.description}</p>}

      {PROJECT_LINKS.length > 0 && (
        <nav aria-label="Project pages">
          <ul className="link-row">
            {PROJECT_LINKS.map((l) => (
              <li key={l.label}>
                <Link to={l.to(projectId)}>{l.label}</Link>
              </li>
            ))}
          </ul>
        </nav>
      )}

      <h2 id="prompts-heading">Prompts</h2>
      <ProblemBanner error={prompts.error} />
      {prompts.isPending ? (
        <Loading what="Loading prompts" />
      ) : prompts.data && prompts.data.count === 0 ? (
        <p className="muted">No prompts yet.</p>
      ) : (
        <table aria-labelledby="prompts-heading">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {prompts.data?.data.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/prompts/${p.id}`}>{p.name}</Link>
                </td>
                <td>{p.description}</td>
                <td>{new Date(p.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {atLeast(me.data?.role, "Editor") && (
        <form onSubmit={submit} className="card" aria-labelledby="new-prompt">
          <h2 id="new-prompt">New prompt</h2>
          <ProblemBanner error={create.error} />
          <label htmlFor="prompt-name">Name</label>
          <input
            id="prompt-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={fieldInvalid(create.error, "name")}
            aria-describedby="prompt-name-error"
            required
          />
          <FieldError error={create.error} field="name" id="prompt-name-error" />
          <label htmlFor="prompt-description">Description</label>
          <input
            id="prompt-description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
          <button type="submit" disabled={create.isPending}>
            Create prompt
          </button>
        </form>
      )}

      <h2 id="protected-heading">Protected labels</h2>
      <p className="muted">
        A protected label points only at approved versions: it moves when a deployment is
        promoted, or by an Admin&apos;s emergency rollback.
      </p>
      <ProblemBanner error={protectedLabels.error} />
      {protectedLabels.data && (
        <ul aria-labelledby="protected-heading">
          {protectedLabels.data.data.map((l) => (
            <li key={l.name}>
              <code>{l.name}</code>{" "}
              <span className="muted">
                {l.always
                  ? "(in every project)"
                  : `(marked by ${l.created_by ?? "?"}${
                      l.created_at ? ` on ${new Date(l.created_at).toLocaleDateString()}` : ""
                    })`}
              </span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
