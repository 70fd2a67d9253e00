import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { BudgetsPage } from "./BudgetsPage";
import { usageBar } from "./usage";

function usage(period: string, limit: number | null) {
  return {
    period,
    period_start: period === "day" ? "2026-12-03" : "2026-12-01",
    period_end: period === "day" ? "2026-12-04" : "2027-01-01",
    spent_usd: 1.5,
    reserved_usd: 0.5,
    spent_tokens: 1200,
    reserved_tokens: 0,
    limit_usd: limit,
    limit_tokens: null,
    remaining_usd: limit === null ? null : limit - 2,
    remaining_tokens: null,
  };
}

function budget(daily: number | null) {
  return {
    project_id: "p1",
    daily_usd: daily,
    monthly_usd: null,
    daily_tokens: null,
    monthly_tokens: null,
    updated_at: null,
    updated_by: null,
    usage: [usage("day", daily), usage("month", null)],
  };
}

afterEach(() => vi.restoreAllMocks());

describe("usageBar", () => {
  it("draws spent then reserved as parts of the limit", () => {
    expect(usageBar(1.5, 0.5, 10)).toEqual({
      limited: true,
      spentPct: 15,
      reservedPct: 5,
      full: false,
    });
  });
  it("never draws past the limit and says when it is used up", () => {
    expect(usageBar(9, 4, 10)).toEqual({
      limited: true,
      spentPct: 90,
      reservedPct: 10,
      full: true,
    });
    expect(usageBar(0, 0, 0).full).toBe(true);
  });
  it("has no bar without a limit", () => {
    expect(usageBar(5, 1, null).limited).toBe(false);
  });
});

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("BudgetsPage", { timeout: 30_000 }, () => {
  it("shows each period's spent, reserved and remaining, and saves an Admin's limits", async () => {
    let current = budget(null);
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects/{project_id}/budgets": () => current,
      "PUT /api/v1/projects/{project_id}/budgets": ({ body }) => {
        current = budget((body as { daily_usd: number }).daily_usd);
        return current;
      },
    });
    renderPage(<BudgetsPage projectId="p1" />);
    const today = await screen.findByRole("region", { name: /Today/ });
    expect(today).toHaveTextContent("(2026-12-03, UTC)");
    expect(within(today).getAllByText("no limit")).toHaveLength(2);

    await userEvent.type(screen.getByLabelText("Daily USD"), "5");
    await userEvent.click(screen.getByRole("button", { name: "Save limits" }));
    expect(await screen.findByText("Limits saved.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({
      daily_usd: 5,
      monthly_usd: null,
      daily_tokens: null,
      monthly_tokens: null,
    });
    const updated = screen.getByRole("region", { name: /Today/ });
    expect(updated).toHaveTextContent("limit $5.00");
    expect(updated).toHaveTextContent("Remaining$3.00");
  });

  it("shows the API's refusal next to the limit it names", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects/{project_id}/budgets": () => budget(null),
      "PUT /api/v1/projects/{project_id}/budgets": () => [
        422,
        {
          detail: [
            { loc: ["body", "monthly_tokens"], msg: "Input should be greater than or equal to 0" },
          ],
        },
      ],
    });
    renderPage(<BudgetsPage projectId="p1" />);
    await userEvent.type(await screen.findByLabelText("Monthly tokens"), "-1");
    await userEvent.click(screen.getByRole("button", { name: "Save limits" }));
    expect(
      await screen.findByText("Input should be greater than or equal to 0", {
        selector: "#limit-monthly_tokens-error",
      }),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Monthly tokens")).toHaveAttribute("aria-invalid", "true");
  });

  it("gives a Viewer the figures and the reason there is no form", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Viewer"),
      "GET /api/v1/projects/{project_id}/budgets": () => budget(10),
    });
    renderPage(<BudgetsPage projectId="p1" />);
    expect(await screen.findByText(/Only Admins can change budgets/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Save limits" })).toBeNull();
    expect(screen.getByRole("region", { name: /Today/ })).toHaveTextContent("limit $10.00");
  });
});
