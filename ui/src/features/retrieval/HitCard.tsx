import { useId, useState } from "react";
import { Link } from "react-router-dom";
import type { Shared } from "./overlap";
import { MODES, chunkPath, sourceWithAnchor, type Hit, type Mode } from "./queries";

const SNIPPET_CHARS = 240;

/** The snippet of a long text: its start, cut at a word. */
function snippet(text: string): string {
  if (text.length <= SNIPPET_CHARS) return text;
  const cut = text.slice(0, SNIPPET_CHARS);
  const space = cut.lastIndexOf(" ");
  return `${space > SNIPPET_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

/** One hit of one mode: rank, score, first-stage ranks (hybrid), source#anchor linking to the
 * chunk, heading path, an expandable snippet, and the chip it shares with its other columns. */
export function HitCard({
  hit,
  rank,
  mode,
  indexId,
  shared,
}: {
  hit: Hit;
  rank: number;
  mode: Mode;
  indexId: string;
  shared?: Shared;
}) {
  const [open, setOpen] = useState(false);
  const textId = useId();
  const long = hit.text.length > SNIPPET_CHARS;
  const elsewhere = shared
    ? MODES.filter((m) => m !== mode && shared.ranks[m] !== undefined).map(
        (m) => [m, shared.ranks[m]] as const,
      )
    : [];
  return (
    <li className="hit">
      <div className="hit-head">
        <span className="hit-rank">#{rank}</span>
        <span className="hit-score" title="score">
          {hit.score.toFixed(4)}
        </span>
        {hit.rerank_score !== null && hit.rerank_score !== undefined && (
          <span className="small muted">rerank {hit.rerank_score.toFixed(3)}</span>
        )}
        {shared && (
          <span className={`shared-chip shared-${shared.colour}`}>
            {shared.letter}
            <span className="visually-hidden">
              {" "}
              (also {elsewhere.map(([m, r]) => `${m} #${r}`).join(", ")})
            </span>
          </span>
        )}
      </div>
      {mode === "hybrid" && (
        <p className="hit-ranks small muted">
          dense {hit.ranks.dense ? `#${hit.ranks.dense}` : "—"} · keyword{" "}
          {hit.ranks.keyword ? `#${hit.ranks.keyword}` : "—"}
        </p>
      )}
      <p className="hit-source">
        <Link to={chunkPath(indexId, hit.chunk_id)}>{sourceWithAnchor(hit.source, hit.anchor)}</Link>
      </p>
      {hit.heading_path.length > 0 && (
        <p className="hit-path small muted">{hit.heading_path.join(" › ")}</p>
      )}
      <p className="hit-text" id={textId}>
        {open ? hit.text : snippet(hit.text)}
      </p>
      {long && (
        <button
          type="button"
          className="link-button"
          aria-expanded={open}
          aria-controls={textId}
          onClick={() => setOpen(!open)}
        >
          {open ? "Show less" : "Show all"}
          <span className="visually-hidden"> of hit {rank}</span>
        </button>
      )}
    </li>
  );
}
