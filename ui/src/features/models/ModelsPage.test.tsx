import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../settings/testing";
import { ModelsPage } from "./ModelsPage";
import { ProjectUsage, spentOf } from "./ProjectUsage";

afterEach(() => vi.restoreAllMocks());

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("ModelsPage", { timeout: 30_000 }, () => {
  it("shows each deployment's health, breaker, latency, error rate and last check", async () => {
    fakeApi({
      "GET /api/v1/models/providers": () => ({
        data: [
          {
            model_name: "smollm2-135m",
            provider: "openai",
            breaker_state: "closed",
            health: "healthy",
            calls: 40,
            errors: 2,
            error_rate: 0.05,
            p50_latency_ms: 120.4,
            p95_latency_ms: 480.9,
            last_error: null,
            last_error_status: null,
            last_error_at: null,
            last_check: {
              ok: true,
              checked_at: "2026-12-01T10:00:00Z",
              latency_ms: 74,
              status_code: 200,
              error: null,
            },
          },
          {
            model_name: "remote",
            provider: "anthropic",
            breaker_state: "open",
            health: "down",
            calls: 5,
            errors: 5,
            error_rate: 1,
            p50_latency_ms: null,
            p95_latency_ms: null,
            last_error: "upstream timed out",
            last_error_status: 504,
            last_error_at: "2026-12-01T10:01:00Z",
            last_check: null,
          },
        ],
        count: 2,
      }),
    });
    renderPage(<ModelsPage />);
    const local = (await screen.findByText("smollm2-135m")).closest("tr") as HTMLElement;
    for (const text of [
      "openai",
      "healthy",
      "closed",
      "120 ms",
      "481 ms",
      "5%",
      "(2 of 40 calls)",
      "passed",
    ]) {
      expect(local).toHaveTextContent(text);
    }
    const remote = within(screen.getByText("remote").closest("tr") as HTMLElement);
    expect(remote.getByText("open (skipped)")).toBeInTheDocument();
    expect(remote.getByText("down")).toBeInTheDocument();
    expect(remote.getByText("not yet run")).toBeInTheDocument();
    expect(remote.getByText(/HTTP 504: upstream timed out/)).toBeInTheDocument();
    expect(screen.getByLabelText(/Refresh every/)).toBeChecked();
  });

  it("links the health-check schedule in the Temporal UI", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Viewer"),
      "GET /api/v1/models/providers": () => ({ data: [], count: 0 }),
      "GET /api/v1/projects": () => ({ data: [], count: 0 }),
    });
    renderPage(<ModelsPage />);
    expect(await screen.findByRole("link", { name: /open in Temporal UI/ })).toHaveAttribute(
      "href",
      "http://temporal.test/namespaces/default/schedules/provider-health-check",
    );
  });
});

describe("ProjectUsage", { timeout: 30_000 }, () => {
  const period = (name: string, extra: Record<string, unknown>) => ({
    period: name,
    period_start: "2026-12-01",
    period_end: "2026-12-02",
    spent_usd: 0,
    reserved_usd: 0,
    spent_tokens: 0,
    reserved_tokens: 0,
    limit_usd: null,
    limit_tokens: null,
    remaining_usd: null,
    remaining_tokens: null,
    ...extra,
  });

  it("writes spent against the limit, or that there is none", () => {
    expect(spentOf(1.5, 5, "usd")).toBe("$1.50 of $5.00");
    expect(spentOf(1200, null, "tokens")).toBe("1,200 tokens (no limit)");
  });

  it("shows each project's day and month and where to change them; a refusal in its row", async () => {
    fakeApi({
      "GET /api/v1/projects": () => ({
        data: [
          { id: "p1", name: "support" },
          { id: "p2", name: "hidden" },
        ],
        count: 2,
      }),
      "GET /api/v1/projects/{project_id}/budgets": ({ params }) =>
        (params as { path: { project_id: string } }).path.project_id === "p1"
          ? {
              project_id: "p1",
              daily_usd: 5,
              monthly_usd: null,
              daily_tokens: null,
              monthly_tokens: 1000,
              updated_at: null,
              updated_by: null,
              usage: [
                period("day", { spent_usd: 5, limit_usd: 5, remaining_usd: 0 }),
                period("month", { spent_tokens: 300, limit_tokens: 1000, remaining_tokens: 700 }),
              ],
            }
          : [403, { detail: "this API key is scoped to another project" }],
    });
    renderPage(<ProjectUsage />);
    const support = within((await screen.findByText("support")).closest("tr") as HTMLElement);
    expect(await support.findByText("$5.00 of $5.00")).toBeInTheDocument();
    expect(support.getByText("limit reached")).toBeInTheDocument();
    expect(support.getByText("300 tokens of 1,000 tokens")).toBeInTheDocument();
    expect(support.getByRole("link", { name: "Budgets of support" })).toHaveAttribute(
      "href",
      "/projects/p1/settings/budgets",
    );
    expect(support.getByRole("link", { name: "Routing policies of support" })).toBeInTheDocument();
    expect(support.getByRole("link", { name: "Cache of support" })).toBeInTheDocument();
    const hidden = within(screen.getByText("hidden").closest("tr") as HTMLElement);
    expect(
      await hidden.findByText("this API key is scoped to another project"),
    ).toBeInTheDocument();
  });
});
