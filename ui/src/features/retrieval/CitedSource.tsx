import { Link } from "react-router-dom";

/** Where a chunk comes from, as `source#anchor`: a link when the source is a web page
 * (http or https; the anchor is the section's fragment there), plain text otherwise (a path
 * on the worker's machine or an inline document's name: nothing the browser can open). */
export function CitedSource({ source, anchor }: { source: string; anchor: string | null }) {
  const where = anchor ? `${source}#${anchor}` : source;
  if (/^https?:\/\//i.test(source)) {
    return (
      <a href={where} target="_blank" rel="noreferrer" className="mono cited-source">
        {where}
        <span className="visually-hidden"> (opens in a new tab)</span>
      </a>
    );
  }
  return <span className="mono cited-source">{where}</span>;
}

/** The app's page of one chunk (what a citation points at). */
export function chunkPath(indexId: string, chunkId: string): string {
  return `/retrieval/indexes/${indexId}/chunks/${chunkId}`;
}

/** A link to a chunk's page named by its citation marker. */
export function ChunkLink({
  indexId,
  chunkId,
  marker,
}: {
  indexId: string;
  chunkId: string;
  marker: string;
}) {
  return (
    <Link to={chunkPath(indexId, chunkId)} className="mono">
      {marker}
    </Link>
  );
}
