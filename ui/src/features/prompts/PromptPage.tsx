import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link, useLocation, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { rememberProject } from "../../components/ProjectSwitcher";
import { DiffSection } from "./DiffSection";
import { LabelsSection } from "./LabelsSection";
import { VersionsTable } from "./VersionsTable";
import { useProject, usePrompt, useVersions } from "./queries";
import "./prompts.css";

/** One prompt: its versions, its labels (moves and rollbacks by role) and a side-by-side diff
 * of any two versions. */
export function PromptPage() {
  const { promptId = "" } = useParams();
  const me = useMe();
  // The editor comes back here with the number of the version it saved.
  const created = (useLocation().state as { created?: number } | null)?.created;
  const path = { params: { path: { prompt_id: promptId } } };
  const prompt = usePrompt(promptId);
  const project = useProject(prompt.data?.project_id);
  const projectId = prompt.data?.project_id;
  useEffect(() => {
    if (projectId) rememberProject(projectId);
  }, [projectId]);
  const versions = useVersions(promptId);
  const labels = useQuery({
    queryKey: ["labels", promptId],
    queryFn: async () => unwrap(await api.GET("/api/v1/prompts/{prompt_id}/labels", path)),
  });

  if (prompt.isPending) return <Loading what="Loading the prompt" />;
  if (prompt.error) return <ProblemBanner error={prompt.error} />;
  const canEdit = atLeast(me.data?.role, "Editor");
  const versionList = versions.data?.data ?? [];
  const labelList = labels.data?.data ?? [];

  return (
    <>
      <p className="breadcrumb">
        <Link to="/">Projects</Link> /{" "}
        <Link to={`/projects/${prompt.data.project_id}`}>{project.data?.name ?? "Project"}</Link> /
      </p>
      <div className="title-row">
        <h1>{prompt.data.name}</h1>
        {canEdit && (
          <Link className="button-link" to={`/prompts/${promptId}/versions/new`}>
            New version
          </Link>
        )}
      </div>
      {prompt.data.description && <p>{prompt.data.description}</p>}
      <p role="status" className="ok">
        {created !== undefined ? `Version ${created} saved.` : ""}
      </p>

      <h2 id="versions-heading">Versions</h2>
      <ProblemBanner error={versions.error} />
      {versions.isPending ? (
        <Loading what="Loading versions" />
      ) : (
        <VersionsTable
          projectId={prompt.data.project_id}
          promptId={promptId}
          versions={versionList}
          labels={labelList}
          canEdit={canEdit}
        />
      )}

      <ProblemBanner error={labels.error} />
      {labels.data && versions.data && (
        <LabelsSection
          promptId={promptId}
          labels={labelList}
          versions={versionList}
          canEdit={canEdit}
          isAdmin={atLeast(me.data?.role, "Admin")}
        />
      )}

      {versions.data && versionList.length > 1 ? (
        <DiffSection key={versionList.length} promptId={promptId} versions={versionList} />
      ) : (
        <section aria-labelledby="diff-heading">
          <h2 id="diff-heading">Compare versions</h2>
          <p className="muted">Two versions are needed to compare them.</p>
        </section>
      )}
    </>
  );
}
