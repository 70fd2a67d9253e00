import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IngestionProgressPanel } from "./IngestionProgressPanel";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => unmockApi());

const ID = "ingest-11111111-2222-3333-4444-555555555555-abcdef";
const ME = {
  actor: "local@promptops.local",
  role: "Editor",
  organization_id: "o",
  project_id: null,
  temporal_ui_url: "http://127.0.0.1:8233",
  temporal_namespace: "default",
};

function progress(over: Record<string, unknown>) {
  return {
    id: ID,
    index_id: "11111111-2222-3333-4444-555555555555",
    source_id: "s1",
    status: "Ingesting",
    documents_total: 4,
    documents_done: 0,
    skipped: 0,
    added: 0,
    replaced: 0,
    removed: 0,
    expired: 0,
    chunks_written: 0,
    duplicates: 0,
    embed_seconds: 0,
    documents_in_index: 0,
    chunks_in_index: 0,
    errors: [],
    error: null,
    temporal_ui_url: "x",
    ...over,
  };
}

describe("IngestionProgressPanel", SLOW, () => {
  it("polls until the ingestion completes, showing its figures, errors and workflow", async () => {
    const answers = [
      progress({ status: "Listing", documents_total: 0 }),
      progress({ documents_done: 2, added: 1, skipped: 1, chunks_written: 7, duplicates: 1 }),
      progress({
        status: "Completed",
        documents_done: 4,
        added: 2,
        skipped: 1,
        replaced: 0,
        removed: 3,
        chunks_written: 15,
        duplicates: 2,
        documents_in_index: 3,
        chunks_in_index: 15,
        embed_seconds: 1.25,
        errors: [{ source: "broken.pdf", message: "not a PDF" }],
      }),
    ];
    const calls = mockApi({
      "GET /api/v1/me": () => json(ME),
      [`GET /api/v1/retrieval/ingestions/${ID}`]: () => json(answers.shift() ?? answers[0]),
    });
    const finished = vi.fn();
    renderPage(<IngestionProgressPanel ingestionId={ID} onFinished={finished} />);
    const status = await screen.findByText("Listing: 0 / ? documents (0%)");
    expect(status).toHaveAttribute("role", "status");
    await screen.findByText("Ingesting: 2 / 4 documents (50%)");
    const bar = screen.getByLabelText("Documents done");
    expect(bar).toHaveAttribute("value", "2");
    expect(bar).toHaveAttribute("max", "4");
    expect(finished).not.toHaveBeenCalled();

    await screen.findByText("Completed: 4 / 4 documents (100%)");
    const figure = (label: string) =>
      within(screen.getByText(label).parentElement as HTMLElement).getByRole("definition");
    expect(figure("Added")).toHaveTextContent("2");
    expect(figure("Unchanged (skipped)")).toHaveTextContent("1");
    expect(figure("Removed")).toHaveTextContent("3");
    expect(figure("Chunks written")).toHaveTextContent("15");
    expect(figure("Near-duplicates dropped")).toHaveTextContent("2");
    expect(figure("Index now")).toHaveTextContent("3 documents · 15 chunks");
    expect(screen.getByText("1 document not ingested")).toBeInTheDocument();
    expect(screen.getByText("broken.pdf").closest("li")).toHaveTextContent("broken.pdf: not a PDF");
    const temporal = await screen.findByRole("link", { name: /Workflow in the Temporal UI/ });
    expect(temporal).toHaveAttribute(
      "href",
      `http://127.0.0.1:8233/namespaces/default/workflows/${ID}`,
    );
    expect(finished).toHaveBeenCalledTimes(1);
    expect(finished.mock.calls[0][0].status).toBe("Completed");

    // Polling stops once the run has ended.
    const polls = calls.filter((c) => c.url.pathname.includes("/ingestions/")).length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(calls.filter((c) => c.url.pathname.includes("/ingestions/")).length).toBe(polls);
    expect(finished).toHaveBeenCalledTimes(1);
  });

  it("says why a failed ingestion failed", async () => {
    mockApi({
      "GET /api/v1/me": () => json(ME),
      [`GET /api/v1/retrieval/ingestions/${ID}`]: () =>
        json(progress({ status: "Failed", error: "activity timed out" })),
    });
    renderPage(<IngestionProgressPanel ingestionId={ID} />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The ingestion failed. activity timed out");
    expect(screen.getByText("Failed", { selector: ".badge" })).toBeInTheDocument();
  });
});
