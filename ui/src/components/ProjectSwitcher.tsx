import { useQuery } from "@tanstack/react-query";
import { Navigate, useNavigate } from "react-router-dom";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { Loading } from "./Loading";
import { ProblemBanner } from "./Problem";

const LAST_PROJECT = "promptops.project";

function useProjects() {
  return useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
}

/** One project (`GET /projects/{id}`), e.g. for a page's heading. */
export function useProject(projectId: string) {
  return useQuery({
    queryKey: ["project", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
}

/** Remember the project last looked at, so project pages reached from the navigation open
 * on it. */
export function rememberProject(projectId: string): void {
  localStorage.setItem(LAST_PROJECT, projectId);
}

/** A select of the caller's projects; choosing one opens `/projects/<id>/<page>`. */
export function ProjectSwitcher({ projectId, page }: { projectId: string; page: string }) {
  const projects = useProjects();
  const navigate = useNavigate();
  if (!projects.data || projects.data.count < 2) return null;
  return (
    <div className="project-switcher">
      <label htmlFor="project-switcher">Project</label>
      <select
        id="project-switcher"
        value={projectId}
        onChange={(e) => navigate(`/projects/${e.target.value}/${page}`)}
      >
        {projects.data.data.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Opens `/projects/<id>/<page>` of the project last looked at (else the first one). */
export function ProjectRedirect({ page, title }: { page: string; title: string }) {
  const projects = useProjects();
  if (projects.isPending) return <Loading what="Loading projects" />;
  if (projects.error) return <ProblemBanner error={projects.error} />;
  const list = projects.data?.data ?? [];
  const last = localStorage.getItem(LAST_PROJECT);
  const target = list.find((p) => p.id === last) ?? list[0];
  if (!target) {
    return (
      <>
        <h1>{title}</h1>
        <p className="muted">No projects yet: create one on the Projects page first.</p>
      </>
    );
  }
  return <Navigate replace to={`/projects/${target.id}/${page}`} />;
}
