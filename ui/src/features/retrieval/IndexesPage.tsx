import { useEffect } from "react";
import { Link, useParams } from "react-router-dom";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { ProjectSwitcher, rememberProject, useProject } from "../../components/ProjectSwitcher";
import { ScrollRegion } from "../../components/ScrollRegion";
import { formatTime } from "../../components/time";
import { NewIndexForm } from "./NewIndexForm";
import { useIndexes } from "./queries";
import "./retrieval.css";

/** The retrieval indexes of a project, and a form to create one (Editor). */
export function IndexesPage() {
  const { projectId = "" } = useParams();
  const me = useMe();
  useEffect(() => rememberProject(projectId), [projectId]);
  const project = useProject(projectId);
  const indexes = useIndexes(projectId);
  return (
    <>
      <div className="page-head">
        <h1>Retrieval{project.data ? ` · ${project.data.name}` : ""}</h1>
        <Link className="button-link" to="/retrieval/query">
          Query an index
        </Link>
      </div>
      <ProjectSwitcher projectId={projectId} page="retrieval" />
      <ProblemBanner error={project.error ?? indexes.error} />
      {indexes.isPending ? (
        <Loading what="Loading indexes" />
      ) : indexes.data && indexes.data.count === 0 ? (
        <p className="muted">No indexes in this project yet.</p>
      ) : (
        <ScrollRegion label="Indexes">
          <table>
            <caption className="visually-hidden">Indexes of the project</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Embedding model</th>
                <th scope="col" className="num">
                  Documents
                </th>
                <th scope="col" className="num">
                  Chunks
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {indexes.data?.data.map((i) => (
                <tr key={i.id}>
                  <td>
                    <Link to={`/retrieval/indexes/${i.id}`}>{i.name}</Link>
                    {i.description && <div className="hint">{i.description}</div>}
                  </td>
                  <td>
                    {i.embedding_model}
                    <div className="hint mono">{i.embedding_model_version}</div>
                  </td>
                  <td className="num">{i.documents}</td>
                  <td className="num">{i.chunks}</td>
                  <td>{formatTime(i.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      {atLeast(me.data?.role, "Editor") && <NewIndexForm projectId={projectId} />}
    </>
  );
}
