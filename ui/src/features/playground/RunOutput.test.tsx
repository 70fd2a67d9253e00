import { act, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { RunOutput } from "./RunOutput";
import type { StreamDone } from "./stream";
import { TextStore } from "./useStreamRun";

const DONE: StreamDone = {
  kind: "done",
  runId: "0123456789abcdef",
  model: "smollm2-135m",
  output: { label: "positive", score: 0.9 },
  promptTokens: 39,
  completionTokens: 24,
  costUsd: 0.00012,
  latencyMs: 812.4,
  cacheHit: false,
};

function renderOutput(node: React.ReactNode) {
  return render(<MemoryRouter>{node}</MemoryRouter>);
}

describe("RunOutput", () => {
  it("shows each delta as soon as the store has it, busy while streaming", () => {
    const store = new TextStore();
    renderOutput(<RunOutput state={{ phase: "streaming" }} text={store} structured={false} />);
    const answer = screen.getByTestId("answer");
    expect(answer).toHaveAttribute("aria-busy", "true");
    act(() => store.set({ text: "Hel", deltas: 1 }));
    expect(answer).toHaveTextContent("Hel");
    act(() => store.set({ text: "Hello", deltas: 2 }));
    expect(answer).toHaveTextContent("Hello");
    expect(answer).toHaveAttribute("data-deltas", "2");
  });

  it("shows tokens, cost, latency and the run once the stream ended", () => {
    const store = new TextStore();
    store.set({ text: "Hello", deltas: 2 });
    renderOutput(
      <RunOutput state={{ phase: "finished", outcome: DONE }} text={store} structured={false} />,
    );
    const figures = screen.getByLabelText("Run figures").textContent ?? "";
    for (const part of ["39", "24", "$0.000120", "812 ms", "smollm2-135m", "01234567"]) {
      expect(figures).toContain(part);
    }
    expect(screen.queryByTestId("structured-output")).toBeNull();
    expect(screen.getByRole("status")).toHaveTextContent("Answer complete: 63 tokens");
  });

  it("pretty-prints structured output, parsing an answer that came as text", () => {
    const store = new TextStore();
    const done = { ...DONE, output: '{"label":"positive"}' };
    renderOutput(
      <RunOutput state={{ phase: "finished", outcome: done }} text={store} structured />,
    );
    expect(screen.getByTestId("structured-output").textContent).toBe(
      '{\n  "label": "positive"\n}',
    );
  });

  it("shows a failed stream's message and links its recorded run", () => {
    const store = new TextStore();
    renderOutput(
      <RunOutput
        state={{
          phase: "finished",
          outcome: { kind: "error", status: 422, message: "schema not met", runId: "r-1" },
        }}
        text={store}
        structured
      />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("schema not met");
    expect(screen.getByRole("link", { name: "See the recorded run" })).toHaveAttribute(
      "href",
      "/playground/runs/r-1",
    );
  });
});
