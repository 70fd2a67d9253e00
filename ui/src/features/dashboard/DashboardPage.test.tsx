import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DashboardPage } from "./DashboardPage";

// The app's client has a relative base URL (the page's origin), which Node's fetch refuses.
vi.mock("../../api/client", async () => {
  const { default: createClient } = await import("openapi-fetch");
  return {
    api: createClient({
      baseUrl: "http://app.test",
      fetch: (request: Request) => globalThis.fetch(request),
    }),
  };
});

const figures = {
  runs: 1200,
  successes: 1140,
  success_rate: 0.95,
  cache_hits: 120,
  cache_hit_rate: 0.1,
  tokens_in: 30000,
  tokens_out: 12000,
  tokens: 42000,
  cost_usd: 3.5,
  cost_per_run_usd: 3.5 / 1200,
  latency_mean_ms: 700,
  latency_p50_ms: 612.3,
  latency_p95_ms: 1840,
};
const PROJECT = "11111111-1111-4111-8111-111111111111";
const VERSION = "22222222-2222-4222-8222-222222222222";

function metrics(groupBy: string[]) {
  return {
    start: "2026-03-01T00:00:00Z",
    end: "2026-03-02T00:00:00Z",
    bucket: "hour",
    group_by: groupBy,
    project_id: null,
    model: null,
    prompt_version_id: null,
    latency_relative_error: 0.02,
    totals: figures,
    series: [
      { bucket_start: "2026-03-01T00:00:00Z", ...figures },
      { bucket_start: "2026-03-01T01:00:00Z", ...figures, runs: 0, latency_p50_ms: null },
    ],
    groups: [
      {
        ...figures,
        project_id: PROJECT,
        project_name: "checkout",
        model: groupBy.includes("model") ? "gpt-x" : null,
        prompt_version_id: groupBy.includes("prompt_version") ? VERSION : null,
        prompt_id: null,
        prompt_name: groupBy.includes("prompt_version") ? "greeter" : null,
        version: groupBy.includes("prompt_version") ? 3 : null,
      },
    ],
    options: {
      projects: [{ id: PROJECT, name: "checkout" }],
      models: ["gpt-x"],
      prompt_versions: [
        { id: VERSION, project_id: PROJECT, prompt_id: VERSION, prompt_name: "greeter", version: 3 },
      ],
    },
  };
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function renderPage(path = "/dashboard") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <DashboardPage />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

// jsdom renders slowly on a loaded shared machine: a generous per-test limit.
const SLOW = 30_000;

afterEach(() => vi.restoreAllMocks());

describe("DashboardPage", () => {
  it("shows the figures, the charts and the table, and asks again when a filter changes", async () => {
    const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      const url = new URL((input as Request).url, "http://x");
      if (url.pathname === "/api/v1/me") return json({}, 404);
      return json(metrics(url.searchParams.getAll("group_by")));
    });
    renderPage();
    const cards = await screen.findByLabelText("Figures of the window");
    expect(within(cards).getByText("1,200")).toBeInTheDocument();
    expect(within(cards).getByText("95.0 %")).toBeInTheDocument();
    expect(within(cards).getByText("612 ms")).toBeInTheDocument();
    expect(within(cards).getByText("1.84 s")).toBeInTheDocument();
    expect(within(cards).getByText("$3.50")).toBeInTheDocument();
    expect(screen.getAllByRole("img")).toHaveLength(4);
    const table = screen.getByRole("table", { name: "Figures by group" });
    expect(within(table).getByText("greeter v3")).toBeInTheDocument();

    await userEvent.selectOptions(screen.getByLabelText("Model"), "gpt-x");
    await userEvent.selectOptions(screen.getByLabelText("Break down by"), "project");
    await waitFor(() => expect(screen.queryByRole("columnheader", { name: "Model" })).toBeNull());
    const last = fetch.mock.calls
      .map(([r]) => new URL((r as Request).url, "http://x"))
      .filter((u) => u.pathname === "/api/v1/dashboards/metrics")
      .pop()!;
    expect(last.searchParams.get("model")).toBe("gpt-x");
    expect(last.searchParams.getAll("group_by")).toEqual(["project"]);
    expect(screen.getByRole("columnheader", { name: "Project" })).toBeInTheDocument();
  }, SLOW);

  it("shows the API's 422 next to the window field it names", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      const url = new URL((input as Request).url, "http://x");
      if (url.pathname === "/api/v1/me") return json({}, 404);
      return json(
        { detail: [{ loc: ["query", "start"], msg: "must be before end", type: "window" }] },
        422,
      );
    });
    renderPage("/dashboard?window=custom&from=2026-03-02T00:00&to=2026-03-01T00:00");
    const from = screen.getByLabelText("From (UTC)");
    expect(await screen.findByText("must be before end")).toHaveAttribute("id", "dash-from-error");
    expect(from).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("alert")).toHaveTextContent("start: must be before end");
  }, SLOW);
});
