import { useCallback, useRef, useState } from "react";
import { isProblem, type ApiProblem } from "../../api/errors";
import type { StreamOptions, StreamOutcome } from "./stream";
import { noteDelta } from "./timings";

export type RunState =
  | { phase: "idle" }
  | { phase: "streaming" }
  | { phase: "finished"; outcome: StreamOutcome }
  /** Refused before the stream began (the API's 4xx, with its fields), or no answer. */
  | { phase: "refused"; problem: ApiProblem | Error };

export interface StreamedText {
  text: string;
  /** How many deltas made `text` (the benchmark's sequence number). */
  deltas: number;
}

/** The streamed text, outside React state: a delta re-renders only the components that read
 * it (`useSyncExternalStore`), not the page with its form and its runs table. Updates from an
 * external store are rendered synchronously (React does not time-slice them), so a delta is
 * in the DOM right after it is parsed. */
export class TextStore {
  private value: StreamedText = { text: "", deltas: 0 };
  private readonly listeners = new Set<() => void>();

  readonly get = (): StreamedText => this.value;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(value: StreamedText): void {
    this.value = value;
    for (const listener of this.listeners) listener();
  }
}

/** One streamed call at a time: the phase in React state (it changes twice per run), the
 * text in a TextStore (it changes with every delta); `stop` aborts the call (the server
 * closes the provider stream). */
export function useStreamRun() {
  const [state, setState] = useState<RunState>({ phase: "idle" });
  const [text] = useState(() => new TextStore());
  const controller = useRef<AbortController | null>(null);

  const start = useCallback(
    async (call: (options: StreamOptions) => Promise<StreamOutcome>): Promise<StreamOutcome | null> => {
      controller.current?.abort();
      const abort = new AbortController();
      controller.current = abort;
      // A run superseded by a newer one (or stopped) no longer touches the state.
      const current = () => controller.current === abort && !abort.signal.aborted;
      let answer = "";
      let deltas = 0;
      text.set({ text: answer, deltas });
      setState({ phase: "streaming" });
      try {
        const outcome = await call({
          signal: abort.signal,
          onDelta: (delta) => {
            answer += delta;
            deltas += 1;
            noteDelta(deltas, delta);
            if (current()) text.set({ text: answer, deltas });
          },
        });
        if (current()) setState({ phase: "finished", outcome });
        return outcome;
      } catch (error) {
        if (abort.signal.aborted) {
          const outcome: StreamOutcome = {
            kind: "error",
            status: null,
            message: "Stopped.",
            runId: null,
          };
          if (controller.current === abort) setState({ phase: "finished", outcome });
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
    [text],
  );

  const stop = useCallback(() => controller.current?.abort(), []);
  return { state, text, start, stop };
}
