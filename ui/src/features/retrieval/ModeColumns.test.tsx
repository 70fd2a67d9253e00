import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { ModeColumns } from "./ModeColumns";
import { QueryPage } from "./QueryPage";
import type { Hit, QueryResult } from "./queries";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => unmockApi());

const INDEX = "ix-1";
const A = "aaaaaaaa-0000-0000-0000-000000000001";
const B = "bbbbbbbb-0000-0000-0000-000000000002";
const C = "cccccccc-0000-0000-0000-000000000003";
const D = "dddddddd-0000-0000-0000-000000000004";

function hit(id: string, score: number, ranks: Record<string, number> = {}): Hit {
  return {
    chunk_id: id,
    score,
    document_id: "doc",
    source: `library/${id.slice(0, 4)}.html`,
    title: "functools",
    heading_path: ["functools", "lru_cache"],
    anchor: "functools.lru_cache",
    text: `text of ${id.slice(0, 4)} ` + "word ".repeat(80),
    token_count: 90,
    metadata: {},
    ranks,
    rerank_score: null,
    citation: `[doc:${id.slice(0, 12)}#functools.lru_cache]`,
  };
}

function result(mode: string, hits: Hit[], timings: Record<string, number>): QueryResult {
  return { hits, mode, embedding_model: "all-MiniLM-L6-v2", candidates: 9, timings_ms: timings };
}

const DENSE = result("dense", [hit(A, 0.81, { dense: 1 }), hit(B, 0.74, { dense: 2 })], {
  dense: 2.5,
  fetch: 1,
  total: 4.25,
});
const KEYWORD = result("keyword", [hit(C, 0.4, { keyword: 1 }), hit(A, 0.3, { keyword: 2 })], {
  keyword: 3,
  fetch: 1,
  total: 5,
});
const HYBRID = result(
  "hybrid",
  [hit(A, 0.0325, { dense: 1, keyword: 2 }), hit(D, 0.016, { dense: 5 })],
  { dense: 2, keyword: 3, fetch: 1, total: 7 },
);

describe("ModeColumns", SLOW, () => {
  it("shows the three modes side by side and marks a chunk found by several", async () => {
    renderPage(
      <ModeColumns
        indexId={INDEX}
        answers={{
          dense: { result: DENSE, roundTripMs: 20 },
          keyword: { result: KEYWORD, roundTripMs: 21 },
          hybrid: { result: HYBRID, roundTripMs: 22 },
        }}
      />,
    );
    const dense = screen.getByRole("region", { name: "Dense" });
    const keyword = screen.getByRole("region", { name: "Keyword" });
    const hybrid = screen.getByRole("region", { name: "Hybrid (RRF)" });
    const hits = (column: HTMLElement) => within(column).getAllByRole("listitem");
    expect(hits(dense)).toHaveLength(2);
    expect(hits(keyword)).toHaveLength(2);
    expect(hits(hybrid)).toHaveLength(2);

    // Chunk A is in all three columns: the same lettered chip, saying where else it ranks.
    for (const column of [dense, keyword, hybrid]) {
      const a = hits(column).find((li) => li.textContent?.includes("text of aaaa"))!;
      const chip = a.querySelector(".shared-chip")!;
      expect(chip).toHaveClass("shared-0");
      expect(chip.textContent).toMatch(/^A/);
    }
    expect(hits(dense)[0].querySelector(".shared-chip")).toHaveTextContent(
      "A (also keyword #2, hybrid #1)",
    );
    // B, C and D are found by one mode only: no chip.
    expect(hits(dense)[1].querySelector(".shared-chip")).toBeNull();
    expect(hits(keyword)[0].querySelector(".shared-chip")).toBeNull();

    // Hybrid hits show their first-stage ranks; the others do not.
    expect(hits(hybrid)[0]).toHaveTextContent("dense #1 · keyword #2");
    expect(hits(hybrid)[1]).toHaveTextContent("dense #5 · keyword —");
    expect(hits(dense)[0]).not.toHaveTextContent("keyword —");

    // Rank, score, source#anchor linking to the chunk page, heading path.
    const first = hits(dense)[0];
    expect(first).toHaveTextContent("#1");
    expect(first).toHaveTextContent("0.8100");
    expect(first).toHaveTextContent("functools › lru_cache");
    expect(within(first).getByRole("link", { name: "library/aaaa.html#functools.lru_cache" })).toHaveAttribute(
      "href",
      `/retrieval/indexes/${INDEX}/chunks/${A}`,
    );

    // Timings per mode: embed (when the API gives it), search, total, round trip.
    const timing = (column: HTMLElement, label: string) =>
      within(within(column).getByText(label).parentElement as HTMLElement).getByRole("definition");
    expect(timing(dense, "search")).toHaveTextContent("2.5 ms");
    expect(timing(dense, "total")).toHaveTextContent("4.3 ms");
    expect(timing(dense, "embed")).toHaveTextContent("—");
    expect(timing(hybrid, "search")).toHaveTextContent("5.0 ms");
    expect(timing(hybrid, "round trip")).toHaveTextContent("22 ms");

    // The snippet expands to the whole text.
    const more = within(first).getByRole("button", { name: "Show all of hit 1" });
    expect(more).toHaveAttribute("aria-expanded", "false");
    const shortText = first.querySelector(".hit-text")!.textContent!;
    await userEvent.click(more);
    expect(more).toHaveAttribute("aria-expanded", "true");
    expect(first.querySelector(".hit-text")!.textContent!.length).toBeGreaterThan(shortText.length);
  });

  it("shows one mode's failure in its own column", () => {
    renderPage(
      <ModeColumns
        indexId={INDEX}
        answers={{
          dense: { error: { status: 503, message: "the embedder is not loaded", fields: {} } },
          keyword: { result: KEYWORD },
          hybrid: { result: result("hybrid", [], { total: 1 }) },
        }}
      />,
    );
    expect(
      within(screen.getByRole("region", { name: "Dense" })).getByRole("alert"),
    ).toHaveTextContent("the embedder is not loaded");
    expect(within(screen.getByRole("region", { name: "Hybrid (RRF)" })).getByText("No hits.")).toBeInTheDocument();
  });
});

describe("QueryPage", SLOW, () => {
  const index = {
    id: INDEX,
    project_id: "p1",
    name: "python-docs",
    description: "",
    embedding_model: "all-MiniLM-L6-v2",
    embedding_model_version: "v",
    dimension: 384,
    chunking: {},
    metadata_schema: { section: "string", media_type: "string", year: "integer" },
    ttl_seconds: null,
    reindex_interval_seconds: null,
    created_at: "2026-12-01T10:00:00Z",
    documents: 4,
    chunks: 30,
    sources: [],
  };
  const base = {
    "GET /api/v1/retrieval/indexes": () => json({ data: [index], count: 1 }),
    "GET /api/v1/projects": () => json({ data: [{ id: "p1", name: "docs" }], count: 1 }),
  };

  it("runs the query in all three modes with the same settings and shows three columns", async () => {
    const calls = mockApi({
      ...base,
      "POST /api/v1/retrieval/query": async (call) => {
        const body = (await call.request.clone().json()) as { mode: string };
        return json({ dense: DENSE, keyword: KEYWORD, hybrid: HYBRID }[body.mode]);
      },
    });
    renderPage(<QueryPage />, { path: "/retrieval/query", url: `/retrieval/query?index=${INDEX}` });
    await userEvent.type(await screen.findByLabelText("Query"), "functools.lru_cache");
    await userEvent.clear(screen.getByLabelText("Top k"));
    await userEvent.type(screen.getByLabelText("Top k"), "5");
    await userEvent.click(screen.getByRole("button", { name: "Add filter" }));
    await userEvent.selectOptions(screen.getByLabelText("Filter 1 field"), "year");
    await userEvent.type(screen.getByLabelText("Filter 1 value"), "2024");
    await userEvent.type(screen.getByLabelText("MMR λ (optional)"), "0.7");
    await userEvent.click(screen.getByRole("button", { name: "Search" }));
    await screen.findByRole("region", { name: "Hybrid (RRF)" });
    const posts = calls.filter((c) => c.method === "POST");
    const bodies = await Promise.all(posts.map((c) => c.request.json()));
    expect(bodies.map((b) => b.mode).sort()).toEqual(["dense", "hybrid", "keyword"]);
    for (const b of bodies) {
      expect(b).toEqual({
        index_id: INDEX,
        query: "functools.lru_cache",
        top_k: 5,
        filters: { year: 2024 },
        mmr_lambda: 0.7,
        rerank: false,
        mode: b.mode,
      });
    }
    expect(screen.getAllByRole("region", { name: /Dense|Keyword|Hybrid/ })).toHaveLength(3);
  });

  it("shows a refused filter next to its row, not as three failed columns", async () => {
    mockApi({
      ...base,
      "POST /api/v1/retrieval/query": () =>
        json(
          { detail: [{ loc: ["body", "filters", "year"], msg: "filters.year: 'x' is not a integer", type: "x" }] },
          422,
        ),
    });
    renderPage(<QueryPage />, { path: "/retrieval/query", url: `/retrieval/query?index=${INDEX}` });
    await userEvent.type(await screen.findByLabelText("Query"), "cache");
    await userEvent.click(screen.getByRole("button", { name: "Add filter" }));
    await userEvent.selectOptions(screen.getByLabelText("Filter 1 field"), "year");
    const value = screen.getByLabelText("Filter 1 value");
    await userEvent.type(value, "x");
    await userEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(
      await screen.findByText("filters.year: 'x' is not a integer", { selector: "#filter-0-error" }),
    ).toBeInTheDocument();
    expect(value).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByRole("region", { name: "Dense" })).not.toBeInTheDocument();
  });
});
