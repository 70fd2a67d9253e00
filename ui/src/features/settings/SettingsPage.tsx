import { Link, NavLink, Navigate, Route, Routes } from "react-router-dom";
import { ApiKeysPage } from "./org/ApiKeysPage";
import { AuditLogPage } from "./org/AuditLogPage";
import { MembersPage } from "./org/MembersPage";
import { ProviderKeysPage } from "./org/ProviderKeysPage";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { useProjects } from "./useProjects";
import { PROJECT_SECTIONS } from "./project/ProjectSettingsPage";
import "./settings.css";

const SECTIONS = [
  { path: "members", label: "Members", element: <MembersPage /> },
  { path: "api-keys", label: "API keys", element: <ApiKeysPage /> },
  { path: "provider-keys", label: "Provider keys", element: <ProviderKeysPage /> },
  { path: "audit", label: "Audit log", element: <AuditLogPage /> },
  { path: "projects", label: "Projects", element: <ProjectsIndex /> },
];

/** Organization settings (``/settings/...``): members, API keys, provider keys, the audit log,
 * and the way to each project's settings. */
export function SettingsPage() {
  return (
    <>
      <h1>Settings</h1>
      <nav aria-label="Settings sections" className="tabs">
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <NavLink to={`/settings/${s.path}`}>{s.label}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Routes>
        <Route index element={<Navigate to="members" replace />} />
        {SECTIONS.map((s) => (
          <Route key={s.path} path={s.path} element={s.element} />
        ))}
        <Route path="*" element={<Navigate to="/settings/members" replace />} />
      </Routes>
    </>
  );
}

/** Every project with links to its budgets, routing policies, cache and approval policy. */
function ProjectsIndex() {
  const projects = useProjects();
  return (
    <section aria-labelledby="projects-settings-title">
      <h2 id="projects-settings-title">Project settings</h2>
      <p className="muted">
        Budgets, routing policies, caches and approval policies are per project.
      </p>
      <ProblemBanner error={projects.error} />
      {projects.isPending ? (
        <Loading what="Loading projects" />
      ) : projects.data && projects.data.count === 0 ? (
        <p className="muted">No projects yet.</p>
      ) : (
        <table className="data">
          <caption className="visually-hidden">Projects and their settings</caption>
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Settings</th>
            </tr>
          </thead>
          <tbody>
            {projects.data?.data.map((p) => (
              <tr key={p.id}>
                <th scope="row">{p.name}</th>
                <td>
                  <ul className="inline-links">
                    {PROJECT_SECTIONS.map((s) => (
                      <li key={s.path}>
                        <Link
                          to={`/projects/${p.id}/settings/${s.path}`}
                          aria-label={`${s.label} of ${p.name}`}
                        >
                          {s.label}
                        </Link>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
