import { useQueries } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { ScrollRegion } from "../../components/ScrollRegion";
import { formatTokens, formatUsd } from "../settings/format";
import { PROJECT_SECTIONS } from "../settings/project/ProjectSettingsPage";
import { useProjects } from "../settings/useProjects";

type Usage = components["schemas"]["PeriodUsage"];

/** "spent of limit" for one period and unit; "no limit" when unlimited. */
export function spentOf(spent: number, limit: number | null, unit: "usd" | "tokens"): string {
  const format = unit === "usd" ? formatUsd : formatTokens;
  return limit === null ? `${format(spent)} (no limit)` : `${format(spent)} of ${format(limit)}`;
}

/** Every project's budgets at a glance (``GET /projects/{id}/budgets`` per project): the UTC
 * day's and month's spent USD and tokens against their limits, and the way to each project's
 * budgets, routing policies and cache settings. */
export function ProjectUsage() {
  const projects = useProjects();
  const list = projects.data?.data ?? [];
  const budgets = useQueries({
    queries: list.map((p) => ({
      queryKey: ["budgets", p.id],
      queryFn: async () =>
        unwrap(
          await api.GET("/api/v1/projects/{project_id}/budgets", {
            params: { path: { project_id: p.id } },
          }),
        ),
    })),
  });

  return (
    <section aria-labelledby="project-usage-title">
      <h2 id="project-usage-title">Budgets, routing and cache by project</h2>
      <p className="muted">
        Spend is counted per project and UTC period; per-key limits are request rates, set on{" "}
        <Link to="/settings/api-keys">API keys</Link>.
      </p>
      <ProblemBanner error={projects.error} />
      {projects.isPending ? (
        <Loading what="Loading projects" />
      ) : list.length === 0 ? (
        <p className="muted">No projects yet.</p>
      ) : (
        <ScrollRegion label="Budgets by project">
          <table className="data project-usage">
            <caption className="visually-hidden">Budgets and usage by project</caption>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col">Today (UTC)</th>
                <th scope="col">This month (UTC)</th>
                <th scope="col">Settings</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p, i) => {
                const budget = budgets[i];
                const period = (name: string) => budget?.data?.usage.find((u) => u.period === name);
                return (
                  <tr key={p.id}>
                    <th scope="row">{p.name}</th>
                    {budget?.error ? (
                      <td colSpan={2}>
                        <ProblemBanner error={budget.error} />
                      </td>
                    ) : (
                      <>
                        <td>
                          <PeriodFigures usage={period("day")} />
                        </td>
                        <td>
                          <PeriodFigures usage={period("month")} />
                        </td>
                      </>
                    )}
                    <td>
                      <ul className="inline-links">
                        {PROJECT_SECTIONS.filter((s) => s.path !== "approval").map((s) => (
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
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      )}
    </section>
  );
}

function PeriodFigures({ usage }: { usage: Usage | undefined }) {
  if (!usage) return <span className="muted">…</span>;
  const refused =
    (usage.remaining_usd !== null && usage.remaining_usd <= 0) ||
    (usage.remaining_tokens !== null && usage.remaining_tokens <= 0);
  return (
    <>
      {spentOf(usage.spent_usd, usage.limit_usd, "usd")}
      <br />
      <span className="small">{spentOf(usage.spent_tokens, usage.limit_tokens, "tokens")}</span>
      {refused && (
        <>
          <br />
          <span className="status-badge status-down">limit reached</span>
        </>
      )}
    </>
  );
}
