import { useCallback, useRef, useState } from "react";
import { isProblem, type ApiProblem } from "../../api/errors";
import type { StreamOptions, StreamOutcome } from "./stream";
import { noteDelta } from "./timings";

export type RunState =
  | { phase: "idle" }
  | { phase: "streaming"; text: string; deltas: number }
  | { phase: "finished"; text: string; deltas: number; outcome: StreamOutcome }
  /** Refused before the stream began (the API's 4xx, with its fields), or no answer. */
  | { phase: "refused"; problem: ApiProblem | Error };

/** One streamed call at a time: its text as the deltas arrive, then the outcome; `stop`
 * aborts it (the server closes the provider stream). */
export function useStreamRun() {
  const [state, setState] = useState<RunState>({ phase: "idle" });
  const controller = useRef<AbortController | null>(null);

  const start = useCallback(
    async (call: (options: StreamOptions) => Promise<StreamOutcome>): Promise<StreamOutcome | null> => {
      controller.current?.abort();
      const abort = new AbortController();
      controller.current = abort;
      // A run superseded by a newer one (or stopped) no longer touches the state.
      const current = () => controller.current === abort && !abort.signal.aborted;
      let text = "";
      let deltas = 0;
      setState({ phase: "streaming", text, deltas });
      try {
        const outcome = await call({
          signal: abort.signal,
          onDelta: (delta) => {
            text += delta;
            deltas += 1;
            noteDelta(deltas, delta);
            if (current()) setState({ phase: "streaming", text, deltas });
          },
        });
        if (current()) setState({ phase: "finished", text, deltas, outcome });
        return outcome;
      } catch (error) {
        if (abort.signal.aborted) {
          const outcome: StreamOutcome = {
            kind: "error",
            status: null,
            message: "Stopped.",
            runId: null,
          };
          if (controller.current === abort) setState({ phase: "finished", text, deltas, outcome });
          return outcome;
        }
        if (controller.current !== abort) return null;
        setState({
          phase: "refused",
          problem: isProblem(error) || error instanceof Error ? error : new Error(String(error)),
        });
        return null;
      } finally {
        if (controller.current === abort) controller.current = null;
      }
    },
    [],
  );

  const stop = useCallback(() => controller.current?.abort(), []);
  return { state, start, stop };
}
