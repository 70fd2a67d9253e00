import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { TemporalLink } from "../../components/TemporalLink";
import { FEATURES } from "../registry";
import { FieldMessage } from "./FieldMessage";
import { vname, type Version } from "./types";

/** The approvals feature's review page, when the app has one (it registers this route). */
const REVIEW_ROUTE = "approvals/:approvalId";

function hasReviewPage(): boolean {
  // Read at render time: the registry imports this feature, so it is not defined yet while
  // this module loads.
  return FEATURES.some((f) => f.routes.some((r) => r.path === REVIEW_ROUTE));
}

/** Submit a Draft version for approval (Editor+): starts its ApprovalWorkflow, then links to
 * the review page (or the workflow in the Temporal UI). The API's refusal (409 for a version
 * already decided) appears next to the button. */
export function SubmitForApproval({ promptId, version }: { promptId: string; version: Version }) {
  const queryClient = useQueryClient();
  const errorId = useId();
  const submit = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/prompt_versions/{version_id}/submit_for_approval", {
          params: { path: { version_id: version.id } },
        }),
      ),
  });
  const started = submit.data;
  // The workflow moves the version out of Draft once it has started: follow its approval
  // until then, and refresh the versions when it has.
  const approval = useQuery({
    queryKey: ["approval", version.id],
    enabled: started !== undefined,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompt_versions/{version_id}/approval", {
          params: { path: { version_id: version.id } },
        }),
      ),
    refetchInterval: (query) =>
      (query.state.data?.version_status ?? "Draft") === "Draft" ? 1000 : false,
  });
  const versionStatus = approval.data?.version_status;
  useEffect(() => {
    if (versionStatus && versionStatus !== "Draft") {
      void queryClient.invalidateQueries({ queryKey: ["versions", promptId] });
    }
  }, [versionStatus, promptId, queryClient]);
  return (
    <div className="submit-approval">
      {started ? (
        <p role="status" className="ok">
          Submitted{approval.data ? ` (approval ${approval.data.status})` : ""}.{" "}
          {hasReviewPage() ? (
            <Link to={`/approvals/${encodeURIComponent(started.approval_id)}`}>
              Review {vname(version.version)}
            </Link>
          ) : (
            <TemporalLink workflowId={started.workflow_id} label="Approval in Temporal UI" />
          )}
        </p>
      ) : (
        version.status === "Draft" && (
          <button
            type="button"
            className="secondary small"
            disabled={submit.isPending}
            aria-describedby={errorId}
            onClick={() => submit.mutate()}
          >
            Submit {vname(version.version)} for approval
          </button>
        )
      )}
      <FieldMessage error={submit.error} field="version_id" id={errorId} orWhole />
    </div>
  );
}
