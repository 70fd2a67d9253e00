import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { ProblemBanner } from "../../components/Problem";
import { VersionPicker, type PromptVersion } from "../../components/VersionPicker";
import "./approvals.css";

/** Submit a Draft version for approval (Editor+): pick it (or arrive with ``?version=``),
 * read it and the project's policy, submit; the review pane opens on the new approval. */
export function SubmitApprovalPage() {
  const me = useMe();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [versionId, setVersionId] = useState(params.get("version") ?? "");
  const [version, setVersion] = useState<PromptVersion | null>(null);
  const [projectId, setProjectId] = useState("");

  const policy = useQuery({
    queryKey: ["approval-policy", projectId],
    enabled: Boolean(projectId),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/approval_policy", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
  const submit = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/prompt_versions/{version_id}/submit_for_approval", {
          params: { path: { version_id: versionId } },
        }),
      ),
    onSuccess: (started) => navigate(`/approvals/${encodeURIComponent(started.approval_id)}`),
  });

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    submit.mutate();
  }

  const p = policy.data;
  return (
    <>
      <p className="crumbs">
        <Link to="/approvals">Approvals</Link> / Submit
      </p>
      <h1>Submit a version for approval</h1>
      {!atLeast(me.data?.role, "Editor") && me.data && (
        <p className="banner note">Your role ({me.data.role}) cannot submit versions.</p>
      )}
      <form onSubmit={onSubmit} className="card wide" aria-labelledby="submit-h">
        <h2 id="submit-h" className="visually-hidden">
          Version to submit
        </h2>
        <VersionPicker
          idPrefix="submit"
          value={versionId}
          statuses={["Draft"]}
          onChange={(id, v, project) => {
            setVersionId(id);
            setVersion(v);
            setProjectId(project);
            submit.reset();
            setParams(id ? { version: id } : {}, { replace: true });
          }}
        />
        {version && (
          <>
            <h3>v{version.version} body</h3>
            <pre className="prompt-text">{version.body}</pre>
          </>
        )}
        {p && (
          <div className="policy-summary">
            <h3>The project's approval policy</h3>
            <ul>
              <li>
                {p.required_approvals} approval{p.required_approvals === 1 ? "" : "s"} by{" "}
                {p.reviewers?.length ? p.reviewers.join(", ") : "any Editor or Admin but the author"}
              </li>
              <li>
                {p.golden_dataset_id
                  ? `First a golden-set check: ${p.eval_metric} ≥ ${p.min_eval_score?.toFixed(2)}`
                  : "No golden-set check"}
              </li>
              <li>Expires after {p.deadline_hours} h without a decision</li>
            </ul>
          </div>
        )}
        <ProblemBanner error={submit.error} />
        <button type="submit" disabled={!versionId || submit.isPending}>
          Submit for approval
        </button>
      </form>
    </>
  );
}
