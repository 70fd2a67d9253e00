import { ProblemBanner } from "../../components/Problem";
import { HitCard } from "./HitCard";
import { sharedHits } from "./overlap";
import { MODES, type Mode, type QueryResult } from "./queries";

/** One mode's answer: its result or its error, and the request's round trip (ms). */
export interface ModeAnswer {
  result?: QueryResult;
  error?: unknown;
  roundTripMs?: number;
}

const TITLES: Record<Mode, string> = {
  dense: "Dense",
  keyword: "Keyword",
  hybrid: "Hybrid (RRF)",
};

function ms(value: number | undefined): string {
  return value === undefined ? "—" : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

/** Where a mode's time went: embedding the query, the first-stage search(es), total. */
function Timings({ answer }: { answer: ModeAnswer }) {
  const t = answer.result?.timings_ms ?? {};
  const search =
    t.dense === undefined && t.keyword === undefined ? undefined : (t.dense ?? 0) + (t.keyword ?? 0);
  const parts: [string, number | undefined][] = [
    ["embed", t.embed],
    ["search", search],
    ...(t.rerank === undefined ? [] : ([["rerank", t.rerank]] as [string, number][])),
    ["total", t.total],
    ["round trip", answer.roundTripMs],
  ];
  return (
    <dl className="timings">
      {parts.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{ms(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The same query's hits in the three modes side by side; a chunk found by several modes has
 * the same lettered chip in each column. */
export function ModeColumns({
  indexId,
  answers,
}: {
  indexId: string;
  answers: Partial<Record<Mode, ModeAnswer>>;
}) {
  const shared = sharedHits(
    Object.fromEntries(
      MODES.filter((m) => answers[m]?.result).map((m) => [m, answers[m]!.result!.hits]),
    ),
  );
  return (
    <div className="mode-columns">
      {MODES.map((mode) => {
        const answer = answers[mode];
        const headingId = `mode-${mode}`;
        const hits = answer?.result?.hits ?? [];
        return (
          <section key={mode} className="mode-column" aria-labelledby={headingId}>
            <h2 id={headingId}>{TITLES[mode]}</h2>
            {answer && <Timings answer={answer} />}
            {answer?.error !== undefined && <ProblemBanner error={answer.error} />}
            {answer?.result && hits.length === 0 && <p className="muted">No hits.</p>}
            {hits.length > 0 && (
              <ol className="hits" aria-label={`${TITLES[mode]} hits`}>
                {hits.map((hit, i) => (
                  <HitCard
                    key={hit.chunk_id}
                    hit={hit}
                    rank={i + 1}
                    mode={mode}
                    indexId={indexId}
                    shared={shared.get(hit.chunk_id)}
                  />
                ))}
              </ol>
            )}
          </section>
        );
      })}
    </div>
  );
}
