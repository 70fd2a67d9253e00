import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { AuditLogPage } from "./AuditLogPage";
import { AUDIT_PAGE_SIZE, auditQuery, filtersToParams } from "./auditQuery";

function entry(id: number, action = "api_key.create") {
  return {
    id,
    actor: "admin@example.com",
    action,
    entity_type: "api_key",
    entity_id: `key-${id}`,
    before: null,
    after: { name: `k${id}` },
    request_id: `req-${id}`,
    created_at: "2026-12-01T10:00:00Z",
  };
}

afterEach(() => vi.restoreAllMocks());

describe("auditQuery", () => {
  it("drops blank filters, converts the time range to UTC and reads the cursor", () => {
    const params = new URLSearchParams({
      action: " api_key.revoke ",
      actor: "",
      since: "2026-12-01T08:30",
      before_id: "42",
    });
    expect(auditQuery(params)).toEqual({
      action: "api_key.revoke",
      since: new Date("2026-12-01T08:30").toISOString(),
      before_id: 42,
      limit: AUDIT_PAGE_SIZE,
    });
  });
  it("ignores a cursor that is not a positive integer", () => {
    expect(auditQuery(new URLSearchParams({ before_id: "x" })).before_id).toBeUndefined();
  });
  it("starts a new filter from the first page", () => {
    expect(filtersToParams({ action: "member.add", request_id: " " }).toString()).toBe(
      "action=member.add",
    );
  });
});

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("AuditLogPage", { timeout: 30_000 }, () => {
  it("filters by action and pages to older entries and back", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/audit": ({ params }) => {
        const q = (params as { query: { before_id?: number } }).query;
        return q.before_id
          ? { data: [entry(1)], count: 1, next_before_id: null }
          : { data: [entry(3), entry(2)], count: 2, next_before_id: 2 };
      },
    });
    renderPage(<AuditLogPage />, "/settings/audit");
    expect(await screen.findByText("key-3")).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Action"), "api_key.create");
    await userEvent.click(screen.getByRole("button", { name: "Apply filters" }));
    await screen.findByText("key-3");
    const queries = () =>
      calls.filter((c) => c.path === "/api/v1/audit").map((c) => c.params?.query);
    expect(queries().at(-1)).toEqual({ action: "api_key.create", limit: AUDIT_PAGE_SIZE });

    await userEvent.click(screen.getByRole("button", { name: "Older" }));
    expect(await screen.findByText("key-1")).toBeInTheDocument();
    expect(queries().at(-1)).toEqual({
      action: "api_key.create",
      before_id: 2,
      limit: AUDIT_PAGE_SIZE,
    });
    expect(screen.getByRole("button", { name: "Older" })).toBeDisabled();

    await userEvent.click(screen.getByRole("button", { name: "Newer" }));
    expect(await screen.findByText("key-3")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Newer" })).toBeDisabled();
  });

  it("shows the API's refusal of a filter next to it", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/audit": () => [
        422,
        { detail: [{ loc: ["query", "actor"], msg: "String should have at most 320 characters" }] },
      ],
    });
    renderPage(<AuditLogPage />, "/settings/audit?actor=x");
    expect(
      await screen.findByText("String should have at most 320 characters", {
        selector: "#audit-actor-error",
      }),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Actor (email)")).toHaveAttribute("aria-invalid", "true");
  });

  it("is for Admins only", async () => {
    const calls = fakeApi({ "GET /api/v1/me": () => me("Viewer") });
    renderPage(<AuditLogPage />);
    expect(await screen.findByText(/Only Admins can read the audit log/)).toBeInTheDocument();
    expect(calls.some((c) => c.path === "/api/v1/audit")).toBe(false);
  });
});
