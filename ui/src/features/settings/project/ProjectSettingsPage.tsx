import { useQuery } from "@tanstack/react-query";
import { Link, NavLink, Navigate, Route, Routes, useNavigate, useParams } from "react-router-dom";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import { ProblemBanner } from "../../../components/Problem";
import { useProjects } from "../useProjects";
import { ApprovalPolicyPage } from "./ApprovalPolicyPage";
import { BudgetsPage } from "./BudgetsPage";
import { CachePage } from "./CachePage";
import { RoutingPoliciesPage, RoutingPolicyEditor } from "./RoutingPoliciesPage";
import "../settings.css";

export const PROJECT_SECTIONS = [
  { path: "budgets", label: "Budgets" },
  { path: "routing", label: "Routing policies" },
  { path: "cache", label: "Cache" },
  { path: "approval", label: "Approval policy" },
];

/** A project's settings (``/projects/:projectId/settings/...``): budgets and usage, routing
 * policies, cache settings and the approval policy; a switcher moves to another project's
 * same section. */
export function ProjectSettingsPage() {
  const { projectId = "", "*": rest = "" } = useParams();
  const navigate = useNavigate();
  const projects = useProjects();
  const project = useQuery({
    queryKey: ["project", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
  const section = rest.split("/")[0] || "budgets";

  return (
    <>
      <p className="breadcrumbs">
        <Link to="/settings/projects">Settings</Link> / Project settings
      </p>
      <div className="project-heading">
        <h1>Project settings{project.data ? <>: {project.data.name}</> : null}</h1>
        {projects.data && projects.data.count > 1 && (
          <div className="project-switcher">
            <label htmlFor="project-switch">Project</label>
            <select
              id="project-switch"
              value={projectId}
              onChange={(e) => navigate(`/projects/${e.target.value}/settings/${section}`)}
            >
              {projects.data.data.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <ProblemBanner error={project.error} />
      {project.data && (
        <>
          <nav aria-label="Project settings sections" className="tabs">
            <ul>
              {PROJECT_SECTIONS.map((s) => (
                <li key={s.path}>
                  <NavLink to={`/projects/${projectId}/settings/${s.path}`}>{s.label}</NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <Routes>
            <Route index element={<Navigate to="budgets" replace />} />
            <Route path="budgets" element={<BudgetsPage projectId={projectId} />} />
            <Route path="routing" element={<RoutingPoliciesPage projectId={projectId} />} />
            <Route path="routing/new" element={<RoutingPolicyEditor projectId={projectId} />} />
            <Route path="routing/:name" element={<RoutingPolicyEditor projectId={projectId} />} />
            <Route path="cache" element={<CachePage projectId={projectId} />} />
            <Route path="approval" element={<ApprovalPolicyPage projectId={projectId} />} />
            <Route path="*" element={<Navigate to="budgets" replace />} />
          </Routes>
        </>
      )}
    </>
  );
}
