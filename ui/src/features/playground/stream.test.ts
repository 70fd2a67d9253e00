import { afterEach, describe, expect, it, vi } from "vitest";
import { streamChat, streamGenerate } from "./stream";

afterEach(() => vi.restoreAllMocks());

function sse(text: string, status = 200): Response {
  return new Response(text, { status, headers: { "Content-Type": "text/event-stream" } });
}

const RESULT = {
  run_id: "run-1",
  model: "smollm2-135m",
  output: "Hello",
  cache_hit: false,
  metrics: { tokens: { prompt: 12, completion: 2 }, cost_usd: 0.000014, latency_ms: 85 },
};

describe("streamGenerate", () => {
  it("passes each delta on, then ends with the run's figures", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      sse(
        'event: delta\ndata: {"text": "Hel"}\n\nevent: delta\ndata: {"text": "lo"}\n\n' +
          `event: done\ndata: ${JSON.stringify(RESULT)}\n\n`,
      ),
    );
    const deltas: string[] = [];
    const outcome = await streamGenerate(
      { prompt_version_id: "v", variables: {}, stream: true },
      { onDelta: (t) => deltas.push(t) },
    );
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(outcome).toEqual({
      kind: "done",
      runId: "run-1",
      model: "smollm2-135m",
      output: "Hello",
      promptTokens: 12,
      completionTokens: 2,
      costUsd: 0.000014,
      latencyMs: 85,
      cacheHit: false,
    });
  });

  it("throws the API's 422 with the missing variable as a field", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response(
        JSON.stringify({
          detail: [{ loc: ["body", "variables", "topic"], msg: "missing variable 'topic'" }],
        }),
        { status: 422 },
      ),
    );
    await expect(
      streamGenerate({ prompt_version_id: "v", variables: {}, stream: true }, { onDelta: () => undefined }),
    ).rejects.toMatchObject({
      status: 422,
      fields: { "variables.topic": "missing variable 'topic'" },
    });
  });

  it("ends with the error event, and with an error when the stream is cut short", async () => {
    vi.spyOn(globalThis, "fetch")
      .mockResolvedValueOnce(
        sse('event: error\ndata: {"status": 502, "message": "provider down"}\n\n'),
      )
      .mockResolvedValueOnce(sse('event: delta\ndata: {"text": "Hel"}\n\n'));
    const options = { onDelta: () => undefined };
    expect(await streamGenerate({ variables: {}, stream: true }, options)).toMatchObject({
      kind: "error",
      status: 502,
      message: "provider down",
    });
    expect(await streamGenerate({ variables: {}, stream: true }, options)).toMatchObject({
      kind: "error",
      message: "The stream ended before the answer was complete.",
    });
  });
});

describe("streamChat", () => {
  it("reads OpenAI chunks, the usage chunk with PromptOps' extras and [DONE]", async () => {
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(
      sse(
        'data: {"model": "smollm2-135m", "choices": [{"delta": {"content": "Hi"}}]}\n\n' +
          'data: {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}, ' +
          '"promptops": {"run_id": "r2", "cost_usd": 0.00001, "latency_ms": 40, "cache_hit": true}}\n\n' +
          "data: [DONE]\n\n",
      ),
    );
    const deltas: string[] = [];
    const outcome = await streamChat(
      { model: "smollm2-135m", messages: [{ role: "user", content: "hi" }], stream: true },
      "project-1",
      { onDelta: (t) => deltas.push(t) },
    );
    expect(deltas).toEqual(["Hi"]);
    expect(outcome).toMatchObject({
      kind: "done",
      runId: "r2",
      output: "Hi",
      promptTokens: 5,
      completionTokens: 1,
      cacheHit: true,
    });
    const init = fetch.mock.calls[0][1] as RequestInit;
    expect((init.headers as Record<string, string>)["OpenAI-Project"]).toBe("project-1");
  });

  it("names the field of an OpenAI-shaped refusal (param)", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response(JSON.stringify({ error: { message: "unknown model 'x'", param: "model" } }), {
        status: 404,
      }),
    );
    await expect(
      streamChat({ model: "x", messages: [], stream: true }, "p", { onDelta: () => undefined }),
    ).rejects.toMatchObject({ status: 404, fields: { model: "unknown model 'x'" } });
  });
});
