import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { StreamOptions, StreamOutcome } from "./stream";
import { useStreamRun } from "./useStreamRun";

/** A call that sends one delta, then waits until it is aborted (as fetch does). */
function hangingCall(options: StreamOptions): Promise<StreamOutcome> {
  options.onDelta("Hel");
  return new Promise((_, reject) => {
    options.signal?.addEventListener("abort", () =>
      reject(new DOMException("aborted", "AbortError")),
    );
  });
}

describe("useStreamRun", () => {
  it("streams into the text store and stops on Stop, keeping the text so far", async () => {
    const { result } = renderHook(() => useStreamRun());
    let running!: Promise<StreamOutcome | null>;
    act(() => {
      running = result.current.start(hangingCall);
    });
    expect(result.current.state.phase).toBe("streaming");
    expect(result.current.text.get()).toEqual({ text: "Hel", deltas: 1 });
    let outcome: StreamOutcome | null = null;
    await act(async () => {
      result.current.stop();
      outcome = await running;
    });
    expect(outcome).toMatchObject({ kind: "error", message: "Stopped." });
    expect(result.current.state).toMatchObject({ phase: "finished" });
    expect(result.current.text.get().text).toBe("Hel");
  });

  it("keeps a refusal's fields for the form", async () => {
    const { result } = renderHook(() => useStreamRun());
    const problem = { status: 422, message: "bad", fields: { "variables.x": "missing" } };
    await act(async () => {
      await result.current.start(() => Promise.reject(problem));
    });
    expect(result.current.state).toEqual({ phase: "refused", problem });
  });
});
