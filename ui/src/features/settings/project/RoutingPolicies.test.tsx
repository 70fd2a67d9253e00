import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { RoutingPolicyEditor } from "./RoutingPoliciesPage";
import { bodyFromForm, constraintsText, emptyForm, move } from "./routingForm";

const providers = {
  data: ["small", "large", "backup"].map((model_name) => ({ model_name })),
  count: 3,
};
const stored = {
  id: "rp-1",
  project_id: "p1",
  name: "cheap",
  strategy: "cost_first",
  candidates: ["small", "large"],
  fallbacks: ["backup"],
  constraints: { max_p95_latency_ms: 800 },
  description: "",
  updated_by: "editor@example.com",
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
};

afterEach(() => vi.restoreAllMocks());

describe("routing policy form", () => {
  it("sends blank constraints as no limit and numbers as numbers", () => {
    const body = bodyFromForm({ ...emptyForm(), candidates: ["a"], maxP95: "800", minQuality: "" });
    expect(body.constraints).toEqual({
      max_p95_latency_ms: 800,
      min_quality: null,
      max_cost_usd: null,
    });
  });
  it("moves a fallback within bounds", () => {
    expect(move(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(move(["a", "b"], 0, -1)).toEqual(["a", "b"]);
  });
  it("writes constraints in one line", () => {
    expect(constraintsText({ max_p95_latency_ms: 800, min_quality: 0.7 })).toBe(
      "p95 ≤ 800 ms · quality ≥ 0.7",
    );
    expect(constraintsText({})).toBe("none");
  });
});

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("RoutingPolicyEditor", { timeout: 30_000 }, () => {
  it("creates a policy with ordered fallbacks and shows a refused candidate next to the list", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Editor"),
      "GET /api/v1/models/providers": () => providers,
      "GET /api/v1/projects/{project_id}/routing_policies": () => ({ data: [], count: 0 }),
      "PUT /api/v1/projects/{project_id}/routing_policies/{name}": () => [
        422,
        {
          detail: [{ loc: ["body", "candidates", 0], msg: "candidates[0]: unknown model 'large'" }],
        },
      ],
    });
    renderPage(<RoutingPolicyEditor projectId="p1" />, "/routing/new");
    await userEvent.type(await screen.findByLabelText("Name"), "fast");
    await userEvent.click(screen.getByLabelText("Latency first", { exact: false }));
    await userEvent.click(await screen.findByRole("checkbox", { name: "large" }));
    for (const m of ["backup", "small"]) {
      await userEvent.selectOptions(screen.getByLabelText("Add a fallback"), m);
      await userEvent.click(screen.getByRole("button", { name: "Add" }));
    }
    await userEvent.click(screen.getByRole("button", { name: "Move small up" }));
    await userEvent.type(screen.getByLabelText("Min quality (0 to 1)"), "0.6");
    await userEvent.click(screen.getByRole("button", { name: "Create policy" }));

    const put = calls.find((c) => c.method === "PUT");
    expect(put?.params).toEqual({ path: { project_id: "p1", name: "fast" } });
    expect(put?.body).toEqual({
      strategy: "latency_first",
      candidates: ["large"],
      fallbacks: ["small", "backup"],
      constraints: { max_p95_latency_ms: null, min_quality: 0.6, max_cost_usd: null },
      description: "",
    });
    const candidates = screen.getByRole("group", { name: "Candidates" });
    expect(
      await within(candidates).findByText("candidates[0]: unknown model 'large'"),
    ).toBeInTheDocument();
  });

  it("shows a stored policy read-only to a Viewer, with the reason", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Viewer"),
      "GET /api/v1/models/providers": () => providers,
      "GET /api/v1/projects/{project_id}/routing_policies": () => ({ data: [stored], count: 1 }),
    });
    renderPage(<RoutingPolicyEditor projectId="p1" />, "/routing/cheap", "/routing/:name");
    expect(
      await screen.findByText(/Only Editors and Admins can change routing policies/),
    ).toBeInTheDocument();
    const small = await screen.findByRole("checkbox", { name: "small" });
    expect(small).toBeChecked();
    expect(small).toBeDisabled();
    expect(screen.getByLabelText("Max p95 latency (ms)")).toHaveValue(800);
    expect(screen.queryByRole("button", { name: "Save policy" })).toBeNull();
    // Anyone may preview the decision.
    expect(screen.getByRole("button", { name: "Preview decision" })).toBeEnabled();
  });
});
