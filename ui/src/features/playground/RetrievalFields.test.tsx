import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { PlaygroundPage } from "./PlaygroundPage";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => {
  unmockApi();
  vi.restoreAllMocks();
});

const CHUNK = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";
const VERSION = {
  id: "v-1",
  prompt_id: "pr-1",
  version: 1,
  status: "Draft",
  notes: "",
  body: "Answer the question using the sources. Cite them. Question: {{ question }}",
  system: null,
  variables: { question: "str", tone: "str" },
  model: null,
  decoding: null,
  response_format: null,
};

function routes() {
  return {
    "GET /api/v1/me": () => json({ role: "Editor", organization_id: "o-1" }),
    "GET /api/v1/projects": () => json({ data: [{ id: "p-1", name: "docs" }], count: 1 }),
    "GET /api/v1/projects/p-1/prompts": () => json({ data: [{ id: "pr-1", name: "qa" }], count: 1 }),
    "GET /api/v1/prompts/pr-1/versions": () => json({ data: [VERSION], count: 1 }),
    "GET /api/v1/prompts/pr-1/labels": () => json({ data: [], count: 0 }),
    "GET /v1/models": () => json({ data: [{ id: "smollm2-135m" }] }),
    "GET /api/v1/runs": () => json({ data: [], count: 0, next_before: null }),
    "GET /api/v1/retrieval/indexes": () =>
      json({ data: [{ id: "ix-1", name: "python-docs", chunks: 42, documents: 3 }], count: 1 }),
  };
}

/** The streamed generate (a plain fetch, not the typed client): the request it got, and a
 * done event carrying the run's retrieval. */
function streamedGenerate() {
  const sent: unknown[] = [];
  const done = {
    run_id: "run-1",
    model: "smollm2-135m",
    output: "It caches. [doc:0a1b2c3d4e5f#] [doc:ffffffffffff#x]",
    cache_hit: false,
    metrics: { tokens: { prompt: 300, completion: 12 }, cost_usd: 0, latency_ms: 900 },
    retrieval: {
      index_id: "ix-1",
      index: "python-docs",
      mode: "hybrid",
      k: 3,
      latency_ms: 12,
      sources: [{ marker: "[doc:0a1b2c3d4e5f#]", chunk_id: CHUNK, source: "functools.html", anchor: null }],
      citations: [
        { marker: "[doc:0a1b2c3d4e5f#]", valid: true, chunk_id: CHUNK, source: "functools.html", anchor: null, reason: null },
        { marker: "[doc:ffffffffffff#x]", valid: false, chunk_id: null, source: null, anchor: null, reason: "not a retrieved chunk" },
      ],
      invalid_citations: 1,
    },
  };
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    expect(String(input)).toBe("/api/v1/generate");
    const body = JSON.parse(String(init?.body)) as { retrieval?: unknown };
    sent.push(body);
    // As the API does: a run without retrieval has none.
    const result = body.retrieval ? done : { ...done, retrieval: null };
    return new Response(
      `event: delta\ndata: {"text": "It caches."}\n\nevent: done\ndata: ${JSON.stringify(result)}\n\n`,
      { headers: { "Content-Type": "text/event-stream" } },
    );
  });
  return sent;
}

async function openPlayground() {
  mockApi(routes());
  renderPage(<PlaygroundPage />, {
    path: "/playground",
    url: "/playground?project=p-1&prompt=pr-1&target=v:v-1",
  });
  await userEvent.type(await screen.findByLabelText("question (str)"), "What does lru_cache do?");
  await screen.findByRole("option", { name: "python-docs (42 chunks)" });
}

describe("the playground's Retrieval (RAG) fields", SLOW, () => {
  it("sends no retrieval while no index is chosen", async () => {
    const sent = streamedGenerate();
    await openPlayground();
    expect(screen.queryByLabelText("Chunks (k)")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByLabelText("Run figures");
    expect(sent).toHaveLength(1);
    expect(sent[0]).not.toHaveProperty("retrieval");
    expect(screen.queryByRole("heading", { name: "Retrieval" })).toBeNull();
  });

  it("sends the index, k, mode and query variable, then shows the sources and citations", async () => {
    const sent = streamedGenerate();
    await openPlayground();
    await userEvent.selectOptions(screen.getByLabelText("Index"), "ix-1");
    const k = screen.getByLabelText("Chunks (k)");
    await userEvent.clear(k);
    await userEvent.type(k, "3");
    await userEvent.type(screen.getByLabelText("Context budget (tokens)"), "700");
    await userEvent.selectOptions(screen.getByLabelText("Search mode"), "dense");
    // The first variable is the default query; the other one can be chosen.
    const query = screen.getByLabelText("Search with");
    expect(query).toHaveValue("question");
    expect(within(query).getByRole("option", { name: "the last user message" })).toHaveValue("");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));

    await screen.findByRole("heading", { name: "Retrieval" });
    expect(sent[0]).toMatchObject({
      prompt_version_id: "v-1",
      variables: { question: "What does lru_cache do?" },
      retrieval: {
        index: "ix-1",
        k: 3,
        mode: "dense",
        query_variable: "question",
        max_context_tokens: 700,
      },
    });
    const sources = screen.getByRole("list", { name: "Sources given to the model" });
    expect(within(sources).getByRole("link", { name: "[doc:0a1b2c3d4e5f#]" })).toHaveAttribute(
      "href",
      `/retrieval/indexes/ix-1/chunks/${CHUNK}`,
    );
    const citations = screen.getByRole("list", { name: "Citations in the answer" });
    expect(citations).toHaveTextContent("not a retrieved chunk");
  });

  it("searches with the last user message when chosen (no query_variable)", async () => {
    const sent = streamedGenerate();
    await openPlayground();
    await userEvent.selectOptions(screen.getByLabelText("Index"), "ix-1");
    await userEvent.selectOptions(screen.getByLabelText("Search with"), "");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    await screen.findByLabelText("Run figures");
    expect(sent[0]).toMatchObject({
      retrieval: { index: "ix-1", k: 4, mode: "hybrid", max_context_tokens: 600 },
    });
    expect((sent[0] as { retrieval: object }).retrieval).not.toHaveProperty("query_variable");
  });

  it("refuses a k out of range next to its field, without running", async () => {
    const sent = streamedGenerate();
    await openPlayground();
    await userEvent.selectOptions(screen.getByLabelText("Index"), "ix-1");
    const k = screen.getByLabelText("Chunks (k)");
    await userEvent.clear(k);
    await userEvent.type(k, "0");
    await userEvent.click(screen.getByRole("button", { name: "Run" }));
    expect(k).toHaveAttribute("aria-invalid", "true");
    expect(k).toHaveAccessibleDescription("Enter a whole number from 1 to 50.");
    expect(sent).toHaveLength(0);
  });
});
