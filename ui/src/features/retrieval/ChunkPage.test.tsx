import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { ChunkPage } from "./ChunkPage";

const SLOW = { timeout: 60_000 };
const CHUNK = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";
const PAGE = { path: "/retrieval/indexes/:indexId/chunks/:chunkId", url: `/retrieval/indexes/ix-1/chunks/${CHUNK}` };

afterEach(() => {
  unmockApi();
  vi.restoreAllMocks();
});

function chunk(source: string) {
  return {
    chunk_id: CHUNK,
    index_id: "ix-1",
    document_id: "d-1",
    source,
    title: "functools — Higher-order functions",
    ordinal: 4,
    heading_path: ["functools — Higher-order functions", "@functools.lru_cache"],
    anchor: "functools.lru_cache",
    text: "Decorator to wrap a function with a memoizing callable.",
    token_count: 187,
    metadata: { section: "library", media_type: "text/html" },
    embedding_model: "all-MiniLM-L6-v2",
    citation: "[doc:0a1b2c3d4e5f#functools.lru_cache]",
  };
}

function serve(source: string) {
  mockApi({
    [`GET /api/v1/retrieval/indexes/ix-1/chunks/${CHUNK}`]: () => json(chunk(source)),
    "GET /api/v1/retrieval/indexes/ix-1": () =>
      json({ id: "ix-1", project_id: "p-1", name: "python-docs" }),
  });
}

describe("ChunkPage", SLOW, () => {
  it("shows the marker, heading path, text, figures and the index it belongs to", async () => {
    serve("library/functools.html");
    renderPage(<ChunkPage />, PAGE);
    await screen.findByRole("heading", { level: 1, name: "functools — Higher-order functions" });
    expect(screen.getByTestId("citation-marker")).toHaveTextContent(
      "[doc:0a1b2c3d4e5f#functools.lru_cache]",
    );
    const path = screen.getByRole("navigation", { name: "Heading path" });
    const headings = within(path).getAllByRole("listitem");
    expect(headings.map((h) => h.textContent)).toEqual([
      "functools — Higher-order functions",
      "@functools.lru_cache",
    ]);
    expect(headings[1]).toHaveAttribute("aria-current", "location");
    expect(screen.getByTestId("chunk-text")).toHaveTextContent("memoizing callable");
    for (const part of ["187", "all-MiniLM-L6-v2", "no. 5 of its document", "text/html"]) {
      expect(document.body).toHaveTextContent(part);
    }
    // A path on the worker's machine: shown with its anchor, not linked.
    expect(screen.getByText("library/functools.html#functools.lru_cache")).not.toHaveAttribute("href");
    const links = await screen.findAllByRole("link", { name: "python-docs" });
    for (const link of links) expect(link).toHaveAttribute("href", "/retrieval/indexes/ix-1");
  });

  it("links a web page's source with the chunk's anchor", async () => {
    serve("https://docs.python.org/3/library/functools.html");
    renderPage(<ChunkPage />, PAGE);
    const link = await screen.findByRole("link", { name: /docs\.python\.org/ });
    expect(link).toHaveAttribute(
      "href",
      "https://docs.python.org/3/library/functools.html#functools.lru_cache",
    );
  });

  it("copies the marker and says so", async () => {
    serve("library/functools.html");
    const user = userEvent.setup();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderPage(<ChunkPage />, PAGE);
    await user.click(await screen.findByRole("button", { name: "Copy marker" }));
    expect(writeText).toHaveBeenCalledWith("[doc:0a1b2c3d4e5f#functools.lru_cache]");
    expect(await screen.findByText("Copied to the clipboard.")).toBeInTheDocument();
  });

  it("shows the API's message for a chunk that is not there", async () => {
    mockApi({
      [`GET /api/v1/retrieval/indexes/ix-1/chunks/${CHUNK}`]: () =>
        json({ detail: "chunk not found" }, 404),
      "GET /api/v1/retrieval/indexes/ix-1": () => json({ detail: "not found" }, 404),
    });
    renderPage(<ChunkPage />, PAGE);
    expect(await screen.findByRole("alert")).toHaveTextContent("chunk not found");
  });
});
