import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { RetrievalResult, asRunRetrieval } from "./Citations";

const A = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";
const B = "1a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";

/** RunResult.retrieval as the API answers it (promptops/llm/pipeline/stages/retrieve.py). */
const RETRIEVAL = {
  index_id: "ix-1",
  index: "python-docs",
  embedding_model: "all-MiniLM-L6-v2",
  mode: "hybrid",
  k: 3,
  query: "What does functools.lru_cache do?",
  chunk_ids: [A, B],
  retrieved: 3,
  context_tokens: 812,
  latency_ms: 41.6,
  sources: [
    { marker: "[doc:0a1b2c3d4e5f#functools.lru_cache]", chunk_id: A, source: "functools.html", anchor: "functools.lru_cache" },
    { marker: "[doc:1a1b2c3d4e5f#]", chunk_id: B, source: "https://docs.python.org/3/library/abc.html", anchor: "abc.ABC" },
  ],
  citations: [
    {
      marker: "[doc:0a1b2c3d4e5f#functools.lru_cache]",
      valid: true,
      chunk_id: A,
      source: "functools.html",
      anchor: "functools.lru_cache",
      reason: null,
    },
    {
      marker: "[doc:ffffffffffff#made-up]",
      valid: false,
      chunk_id: null,
      source: null,
      anchor: null,
      reason: "not a retrieved chunk",
    },
  ],
  invalid_citations: 1,
};

function renderResult(value: unknown) {
  const retrieval = asRunRetrieval(value);
  if (!retrieval) throw new Error("not a retrieval");
  return render(
    <MemoryRouter>
      <RetrievalResult retrieval={retrieval} />
    </MemoryRouter>,
  );
}

describe("RetrievalResult", () => {
  it("lists the sources given, each linked to its chunk's page; web sources link out", () => {
    renderResult(RETRIEVAL);
    const sources = screen.getByRole("list", { name: "Sources given to the model" });
    const items = within(sources).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(
      within(items[0]).getByRole("link", { name: "[doc:0a1b2c3d4e5f#functools.lru_cache]" }),
    ).toHaveAttribute("href", `/retrieval/indexes/ix-1/chunks/${A}`);
    // A path on the worker's machine is not a link; a web page is, with its anchor.
    expect(items[0]).toHaveTextContent("functools.html#functools.lru_cache");
    expect(within(items[0]).getAllByRole("link")).toHaveLength(1);
    expect(
      within(items[1]).getByRole("link", { name: /docs\.python\.org.*abc\.ABC/ }),
    ).toHaveAttribute("href", "https://docs.python.org/3/library/abc.html#abc.ABC");
  });

  it("marks a valid citation and flags one that names no retrieved chunk, in words", () => {
    renderResult(RETRIEVAL);
    const citations = screen.getByRole("list", { name: "Citations in the answer" });
    expect(citations).toHaveAccessibleDescription("2 citations, 1 flagged.");
    const [valid, flagged] = within(citations).getAllByRole("listitem");
    expect(valid.querySelector(".badge")).toHaveTextContent(/^✓ Valid$/);
    expect(valid.querySelector(".badge")).toHaveClass("badge-good");
    expect(flagged.querySelector(".badge")).toHaveClass("badge-bad");
    expect(within(valid).getByRole("link", { name: RETRIEVAL.citations[0].marker })).toHaveAttribute(
      "href",
      `/retrieval/indexes/ix-1/chunks/${A}`,
    );
    expect(flagged).toHaveTextContent("Flagged [doc:ffffffffffff#made-up] not a retrieved chunk");
    expect(within(flagged).queryByRole("link")).toBeNull();
  });

  it("shows the index, mode, chunks and the retrieval latency", () => {
    renderResult(RETRIEVAL);
    const figures = screen.getByLabelText("Retrieval figures");
    expect(within(figures).getByRole("link", { name: "python-docs" })).toHaveAttribute(
      "href",
      "/retrieval/indexes/ix-1",
    );
    const text = figures.textContent ?? "";
    for (const part of ["hybrid", "2 of 3 (k = 3)", "812", "42 ms"]) expect(text).toContain(part);
  });

  it("says so when the answer cites nothing", () => {
    renderResult({ ...RETRIEVAL, citations: [], invalid_citations: 0 });
    expect(screen.getByText("The answer cites no source.")).toBeInTheDocument();
  });

  it("is not shown for a run without retrieval", () => {
    expect(asRunRetrieval(null)).toBeNull();
    expect(asRunRetrieval({ index: "x" })).toBeNull();
  });
});
