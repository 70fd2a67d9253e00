import { mockApi, json, renderPage, unmockApi } from "../../test/renderPage";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EvaluationPage } from "./EvaluationPage";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };
const WAIT = { timeout: 30_000 };

afterEach(() => {
  unmockApi();
  vi.restoreAllMocks();
});

const V1 = "11111111-1111-1111-1111-111111111111";
const V2 = "22222222-2222-2222-2222-222222222222";
const ME = {
  actor: "local@promptops.local",
  role: "Editor",
  organization_id: "o",
  project_id: null,
  temporal_ui_url: "http://127.0.0.1:8233",
  temporal_namespace: "default",
};
const METRICS = {
  data: [
    { name: "exact_match", kind: "text", higher_is_better: true, description: "EM" },
    { name: "latency_ms", kind: "latency", higher_is_better: false, description: "ms" },
  ],
  count: 2,
};

function evaluation(over: Record<string, unknown>) {
  return {
    id: "eval-abc",
    status: "Completed",
    project_id: "p1",
    dataset_id: "d1",
    dataset_name: "capitals",
    prompt_version_ids: [V1, V2],
    versions: [
      { id: V1, prompt_id: "pr", prompt_name: "capital", version: 1 },
      { id: V2, prompt_id: "pr", prompt_name: "capital", version: 2 },
    ],
    metrics: ["exact_match", "latency_ms"],
    created_at: "2026-12-01T10:00:00Z",
    completed_at: null,
    progress: { done: 0, total: 0, versions: [] },
    summary: null,
    rows: [],
    temporal_ui_url: "http://127.0.0.1:8233/namespaces/default/workflows/eval-abc",
    error: null,
    ...over,
  };
}

const SUMMARY = {
  versions: [
    {
      version_id: V1,
      n: 2,
      errors: 0,
      metrics: { exact_match: { value: 0.5, ci_low: 0, ci_high: 1 } },
      latency_ms: { p50: 100, p95: 150 },
      tokens_in: 20,
      tokens_out: 8,
      cost_usd: 0,
    },
    {
      version_id: V2,
      n: 2,
      errors: 0,
      metrics: { exact_match: { value: 1, ci_low: 1, ci_high: 1 } },
      latency_ms: { p50: 90, p95: 120 },
      tokens_in: 24,
      tokens_out: 6,
      cost_usd: 0,
    },
  ],
  comparisons: [
    {
      baseline: V1,
      candidate: V2,
      n_paired: 2,
      metrics: {
        exact_match: { diff: 0.5, ci_low: 0, ci_high: 1, p_value: 1, test: "paired_bootstrap" },
      },
    },
  ],
};

const EXAMPLES = {
  count: 1,
  data: [
    {
      example_id: "fr",
      position: 0,
      input: { country: "France" },
      expected: "Paris",
      runs: [
        {
          prompt_version_id: V1,
          run_id: "r1",
          output: "Lyon",
          predicted_label: null,
          success: true,
          error: null,
          metrics: { exact_match: 0 },
          latency_ms: 100,
          tokens_in: 10,
          tokens_out: 4,
          cost_usd: 0,
        },
        {
          prompt_version_id: V2,
          run_id: "r2",
          output: "Paris",
          predicted_label: null,
          success: true,
          error: null,
          metrics: { exact_match: 1 },
          latency_ms: 90,
          tokens_in: 12,
          tokens_out: 3,
          cost_usd: 0,
        },
      ],
    },
  ],
};

function page(body: Record<string, unknown>, extra = {}) {
  const calls = mockApi({
    "GET /api/v1/me": () => json(ME),
    "GET /api/v1/evals/metrics": () => json(METRICS),
    "GET /api/v1/evals/eval-abc": () => json(evaluation(body)),
    "GET /api/v1/evals/eval-abc/examples": () => json(EXAMPLES),
    ...extra,
  });
  renderPage(<EvaluationPage />, { path: "/evaluations/:evalId", url: "/evaluations/eval-abc" });
  return calls;
}

describe("EvaluationPage", SLOW, () => {
  it("shows live progress, errors and a cancel button while the evaluation runs", async () => {
    const calls = page(
      {
        status: "Running",
        progress: {
          done: 3,
          total: 8,
          versions: [
            { version_id: V1, done: 2, errors: 1, means: { exact_match: 0.5 } },
            { version_id: V2, done: 1, errors: 0, means: {} },
          ],
        },
      },
      { "POST /api/v1/evals/eval-abc/cancel": () => json({ id: "eval-abc", status: "Cancelling" }, 202) },
    );
    expect(await screen.findByText("3 / 8 examples (37%) · 1 error")).toBeInTheDocument();
    expect(screen.getByLabelText("Examples done")).toHaveAttribute("value", "3");
    expect(screen.getByText("exact_match 0.500")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: /Workflow in the Temporal UI/ })).toHaveAttribute(
      "href",
      "http://127.0.0.1:8233/namespaces/default/workflows/eval-abc",
    );
    await userEvent.click(screen.getByRole("button", { name: "Cancel evaluation" }));
    expect(await screen.findByRole("button", { name: "Cancelling…" })).toBeDisabled();
    expect(calls.some((c) => c.method === "POST" && c.url.pathname.endsWith("/cancel"))).toBe(true);
    // The polled read asks for no rows: the per-example table pages them itself.
    const read = calls.find((c) => c.url.pathname === "/api/v1/evals/eval-abc");
    expect(read?.url.searchParams.get("rows")).toBe("0");
  });

  it("says why a failed evaluation failed", async () => {
    page({ status: "Failed", error: "unknown routing policy 'fast'" });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The evaluation failed. unknown routing policy 'fast'");
  });

  it("shows the comparison table and the per-example rows of a finished evaluation", async () => {
    page({ summary: SUMMARY });
    const table = await screen.findByRole("table", { name: /Comparison/ });
    const headers = within(table)
      .getAllByRole("columnheader")
      .map((h) => h.textContent);
    expect(headers).toEqual([
      "Metric",
      "capital v1 (baseline)",
      "capital v2",
      "Δ capital v2 − capital v1 [95% CI], 2 paired",
      "p-value",
      "test",
    ]);
    const em = within(table).getByRole("row", { name: /^exact_match/ });
    expect(em).toHaveTextContent("0.500 [0.000, 1.000]");
    expect(em).toHaveTextContent("+0.500 [+0.000, +1.000]");
    expect(em).toHaveTextContent("1.000");
    expect(em).toHaveTextContent("paired bootstrap");
    expect(within(table).getByRole("row", { name: /latency p50/ })).toHaveTextContent("100 / 150");
    const rows = await screen.findByRole("table", { name: "Per-example results" });
    expect(within(rows).getByRole("row", { name: /fr/ })).toHaveTextContent(
      "country: FranceParisLyonexact_match 0.000100 msParisexact_match 1.00090 ms",
    );
  });

  it("filters to disagreements and exports every row as CSV", async () => {
    const calls = page(
      { summary: SUMMARY },
      {
        "GET /api/v1/evals/eval-abc/rows.csv": () =>
          new Response("example_id,prompt\r\nfr,capital\r\n", {
            headers: { "Content-Type": "text/csv; charset=utf-8" },
          }),
      },
    );
    await screen.findByRole("table", { name: "Per-example results" });
    await userEvent.click(screen.getByLabelText("Only examples where the versions disagree"));
    await vi.waitFor(
      () =>
        expect(calls.some((c) => c.url.searchParams.get("disagreements") === "true")).toBe(
          true,
        ),
      WAIT,
    );
    const saved: Blob[] = [];
    URL.createObjectURL = vi.fn((blob: Blob) => {
      saved.push(blob);
      return "blob:csv";
    });
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    await userEvent.click(screen.getByRole("button", { name: "Export CSV" }));
    await vi.waitFor(() => expect(click).toHaveBeenCalled(), WAIT);
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(saved[0]);
    });
    expect(text).toBe("example_id,prompt\r\nfr,capital\r\n");
    expect((click.mock.contexts[0] as HTMLAnchorElement).download).toBe("eval-abc-rows.csv");
  });
});
