import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { Loading } from "../../components/Loading";

/** The organization's projects (the key's one project when it is scoped), and a form to add
 * one (Admin). */
export function ProjectsPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/projects", { body: { name, description } })),
    onSuccess: async () => {
      setName("");
      setDescription("");
      await queryClient.invalidateQueries({ queryKey: ["projects"] });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  return (
    <>
      <h1>Projects</h1>
      <ProblemBanner error={projects.error} />
      {projects.isPending ? (
        <Loading what="Loading projects" />
      ) : projects.data && projects.data.count === 0 ? (
        <p className="muted">No projects yet.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Projects</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {projects.data?.data.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/projects/${p.id}`}>{p.name}</Link>
                </td>
                <td>{p.description}</td>
                <td>{new Date(p.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {atLeast(me.data?.role, "Admin") && (
        <form onSubmit={submit} className="card" aria-labelledby="new-project">
          <h2 id="new-project">New project</h2>
          <ProblemBanner error={create.error} />
          <label htmlFor="project-name">Name</label>
          <input
            id="project-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={fieldInvalid(create.error, "name")}
            aria-describedby="project-name-error"
            required
          />
          <FieldError error={create.error} field="name" id="project-name-error" />
          <label htmlFor="project-description">Description</label>
          <input
            id="project-description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
          <button type="submit" disabled={create.isPending}>
            Create project
          </button>
        </form>
      )}
    </>
  );
}
