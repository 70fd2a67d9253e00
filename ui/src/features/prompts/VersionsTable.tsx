import { Link } from "react-router-dom";
import { StatusBadge } from "./StatusBadge";
import { SubmitForApproval } from "./SubmitForApproval";
import { vname, type Label, type Version } from "./types";

/** The prompt's versions, newest first: number, status, model, the labels pointing at it,
 * when and by whom it was created, and (Editor+) a link to a new version starting from it. */
export function VersionsTable({
  promptId,
  versions,
  labels,
  canEdit,
}: {
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
                  <Link to={`/prompts/${promptId}/versions/new?from=${v.version}`}>
                    New version from {vname(v.version)}
                  </Link>
                  <SubmitForApproval promptId={promptId} version={v} />
                </td>
              )}
            </tr>
          ))}
      </tbody>
    </table>
  );
}
