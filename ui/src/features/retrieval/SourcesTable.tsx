import { Link } from "react-router-dom";
import { ScrollRegion } from "../../components/ScrollRegion";
import { TemporalLink } from "../../components/TemporalLink";
import { formatTime } from "../../components/time";
import type { Source } from "./queries";

/** What a source reads, as one line per path, URL or document name. */
function sourceTargets(source: Source): string[] {
  const d = source.definition as {
    path?: string;
    include?: string[];
    exclude?: string[];
    paths?: string[];
    urls?: string[];
    documents?: { name: string }[];
  };
  if (source.kind === "folder") {
    const globs = [
      d.include?.length ? `include ${d.include.join(", ")}` : "",
      d.exclude?.length ? `exclude ${d.exclude.join(", ")}` : "",
    ].filter(Boolean);
    return [d.path ?? "", ...(globs.length ? [globs.join("; ")] : [])];
  }
  if (source.kind === "files") return d.paths ?? [];
  if (source.kind === "urls") return d.urls ?? [];
  return (d.documents ?? []).map((doc) => doc.name);
}

const STATS: [string, string][] = [
  ["documents", "documents"],
  ["added", "added"],
  ["replaced", "replaced"],
  ["skipped", "skipped"],
  ["removed", "removed"],
  ["chunks_written", "chunks written"],
  ["duplicates", "near-duplicates"],
  ["errors", "errors"],
];

/** The index's sources: kind, what they read, their last ingestion's figures and workflow. */
export function SourcesTable({ sources, indexId }: { sources: Source[]; indexId: string }) {
  if (sources.length === 0) return <p className="muted">Nothing ingested yet.</p>;
  return (
    <ScrollRegion label="Sources">
      <table className="sources">
        <caption className="visually-hidden">Sources of the index</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Reads</th>
            <th scope="col">Last ingestion</th>
            <th scope="col">Figures</th>
            <th scope="col">Workflow</th>
          </tr>
        </thead>
        <tbody>
          {sources.map((s) => {
            const stats = s.last_stats as Record<string, number>;
            return (
              <tr key={s.id}>
                <td>{s.kind}</td>
                <td className="reads">
                  <ul className="plain mono small">
                    {sourceTargets(s).map((t, i) => (
                      <li key={i}>{t}</li>
                    ))}
                  </ul>
                </td>
                <td className="nowrap">{formatTime(s.last_ingested_at)}</td>
                <td>
                  {Object.keys(stats).length === 0
                    ? "—"
                    : STATS.filter(([key]) => key in stats)
                        .map(([key, label]) => `${stats[key]} ${label}`)
                        .join(" · ")}
                </td>
                <td className="nowrap">
                  {s.last_workflow_id ? (
                    <>
                      <TemporalLink workflowId={s.last_workflow_id} label="Temporal UI" />
                      <br />
                      <Link
                        to={`/retrieval/indexes/${indexId}?ingestion=${encodeURIComponent(s.last_workflow_id)}`}
                      >
                        Progress<span className="visually-hidden"> of the last ingestion</span>
                      </Link>
                    </>
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </ScrollRegion>
  );
}
