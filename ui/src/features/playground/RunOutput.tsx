import { useLayoutEffect, useSyncExternalStore } from "react";
import { Link } from "react-router-dom";
import { RetrievalResult, asRunRetrieval } from "./Citations";
import type { StreamDone } from "./stream";
import { noteRendered } from "./timings";
import type { RunState, TextStore } from "./useStreamRun";

/** The answer as it streams in; the figures once it ended; the structured output when a
 * JSON Schema was given; the error of a failed stream. */
export function RunOutput({
  state,
  text,
  structured,
}: {
  state: RunState;
  text: TextStore;
  structured: boolean;
}) {
  const streaming = state.phase === "streaming";
  const outcome = state.phase === "finished" ? state.outcome : null;

  return (
    <section className="card playground-output" aria-labelledby="answer-heading">
      <h2 id="answer-heading">Answer</h2>
      <p className="visually-hidden" role="status" aria-live="polite">
        {streaming
          ? "Streaming the answer"
          : outcome?.kind === "done"
            ? `Answer complete: ${(outcome.promptTokens ?? 0) + (outcome.completionTokens ?? 0)} tokens, ${formatCost(outcome.costUsd)}`
            : ""}
      </p>
      {state.phase === "idle" ? (
        <p className="muted">Run to see the answer stream in here.</p>
      ) : state.phase === "refused" ? (
        <p className="muted">Nothing was run.</p>
      ) : (
        <StreamedText store={text} streaming={streaming} />
      )}
      {outcome?.kind === "error" && (
        <div role="alert" className="banner error">
          {outcome.message}
          {outcome.runId && (
            <>
              {" "}
              <Link to={`/playground/runs/${outcome.runId}`}>See the recorded run</Link>
            </>
          )}
        </div>
      )}
      {outcome?.kind === "done" && <Figures done={outcome} />}
      {outcome?.kind === "done" && structured && <StructuredOutput output={outcome.output} />}
      {outcome?.kind === "done" && <RunRetrievalOf done={outcome} />}
    </section>
  );
}

/** The only component a delta re-renders. */
function StreamedText({ store, streaming }: { store: TextStore; streaming: boolean }) {
  const { text, deltas } = useSyncExternalStore(store.subscribe, store.get);
  // The benchmark's hook: the deltas up to this one are in the DOM now.
  useLayoutEffect(() => {
    if (deltas > 0) noteRendered(deltas);
  }, [deltas]);
  return (
    <pre className="answer" data-testid="answer" aria-busy={streaming} data-deltas={deltas}>
      {text}
      {streaming && <span className="cursor" aria-hidden="true" />}
    </pre>
  );
}

export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined) return "-";
  return `$${usd.toFixed(6)}`;
}

function RunRetrievalOf({ done }: { done: StreamDone }) {
  const retrieval = asRunRetrieval(done.retrieval);
  return retrieval ? <RetrievalResult retrieval={retrieval} /> : null;
}

function Figures({ done }: { done: StreamDone }) {
  return (
    <dl className="figures" aria-label="Run figures">
      <div>
        <dt>Prompt tokens</dt>
        <dd>{done.promptTokens ?? "-"}</dd>
      </div>
      <div>
        <dt>Completion tokens</dt>
        <dd>{done.completionTokens ?? "-"}</dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd>{formatCost(done.costUsd)}</dd>
      </div>
      <div>
        <dt>Latency</dt>
        <dd>{done.latencyMs === null ? "-" : `${Math.round(done.latencyMs)} ms`}</dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd>{done.model}</dd>
      </div>
      <div>
        <dt>Cache</dt>
        <dd>{done.cacheHit ? "hit" : "miss"}</dd>
      </div>
      {done.runId && (
        <div>
          <dt>Run</dt>
          <dd>
            <Link to={`/playground/runs/${done.runId}`}>{done.runId.slice(0, 8)}</Link>
          </dd>
        </div>
      )}
    </dl>
  );
}

/** The answer as pretty JSON (it is parsed when it arrived as text). */
export function StructuredOutput({ output }: { output: unknown }) {
  let value = output;
  if (typeof output === "string") {
    try {
      value = JSON.parse(output);
    } catch {
      return (
        <p className="error">The answer is not JSON, although a schema was given.</p>
      );
    }
  }
  return (
    <>
      <h3>Structured output</h3>
      <pre className="json" data-testid="structured-output">
        {JSON.stringify(value, null, 2)}
      </pre>
    </>
  );
}
