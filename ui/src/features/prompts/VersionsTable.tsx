import { Link } from "react-router-dom";
import { StatusBadge } from "./StatusBadge";
import { SubmitForApproval } from "./SubmitForApproval";
import { vname, type Label, type Version } from "./types";

/** The prompt's versions, newest first: number, status, model, the labels pointing at it,
 * when and by whom it was created, and (Editor+) its actions: a new version starting from it,
 * a run in the playground, submit for approval (Draft), a rollout (Approved). */
export function VersionsTable({
  projectId,
  promptId,
  versions,
  labels,
  canEdit,
}: {
  projectId: string;
  promptId: string;
  versions: Version[];
  labels: Label[];
  canEdit: boolean;
}) {
  if (versions.length === 0) {
    return <p className="muted">No versions yet.</p>;
  }
  const labelsOf = (id: string) => labels.filter((l) => l.prompt_version_id === id);
  return (
    <table aria-labelledby="versions-heading" className="versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Status</th>
          <th scope="col">Model</th>
          <th scope="col">Labels</th>
          <th scope="col">Created</th>
          <th scope="col">Author</th>
          <th scope="col">Notes</th>
          {canEdit && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {[...versions]
          .sort((a, b) => b.version - a.version)
          .map((v) => (
            <tr key={v.id}>
              <th scope="row">{vname(v.version)}</th>
              <td>
                <StatusBadge status={v.status} />
              </td>
              <td>{v.model ?? <span className="muted">default</span>}</td>
              <td>
                {labelsOf(v.id).map((l) => (
                  <span key={l.name} className={l.protected ? "tag protected" : "tag"}>
                    {l.name}
                    {l.protected && <span className="visually-hidden"> (protected)</span>}
                  </span>
                ))}
              </td>
              <td>{new Date(v.created_at).toLocaleString()}</td>
              <td>{v.created_by}</td>
              <td className="notes">{v.notes}</td>
              {canEdit && (
                <td>
                  <ul className="version-actions">
                    <li>
                      <Link to={`/prompts/${promptId}/versions/new?from=${v.version}`}>
                        New version from {vname(v.version)}
                      </Link>
                    </li>
                    <li>
                      <Link
                        to={`/playground?project=${projectId}&prompt=${promptId}&target=v:${v.id}`}
                      >
                        Run {vname(v.version)} in the playground
                      </Link>
                    </li>
                    {v.status === "Approved" && (
                      <li>
                        <Link to={`/rollouts/new?version=${v.id}`}>Deploy {vname(v.version)}</Link>
                      </li>
                    )}
                  </ul>
                  <SubmitForApproval promptId={promptId} version={v} />
                </td>
              )}
            </tr>
          ))}
      </tbody>
    </table>
  );
}
