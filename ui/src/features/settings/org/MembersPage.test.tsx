import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { MembersPage } from "./MembersPage";

const members = {
  data: [
    {
      user_id: "u-1",
      email: "admin@example.com",
      display_name: "",
      role: "Admin",
      project_id: null,
      created_at: "2026-12-01T10:00:00Z",
    },
    {
      user_id: "u-2",
      email: "dev@example.com",
      display_name: "",
      role: "Viewer",
      project_id: "p1",
      created_at: "2026-12-01T10:00:00Z",
    },
  ],
  count: 2,
};
const projects = { data: [{ id: "p1", name: "support-bot" }], count: 1 };

afterEach(() => vi.restoreAllMocks());

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("MembersPage", { timeout: 30_000 }, () => {
  it("lets an Admin change a role and shows the API's refusal in that row", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects": () => projects,
      "GET /api/v1/members": () => members,
      "PATCH /api/v1/members/{user_id}": () => [
        409,
        { detail: "the organization would be left without an organization-wide Admin" },
      ],
    });
    renderPage(<MembersPage />);
    await userEvent.selectOptions(
      await screen.findByLabelText("Role of dev@example.com"),
      "Editor",
    );
    expect(calls.find((c) => c.method === "PATCH")).toMatchObject({
      params: { path: { user_id: "u-2" } },
      body: { role: "Editor" },
    });
    const row = screen.getByText("dev@example.com").closest("tr") as HTMLElement;
    expect(await within(row).findByRole("alert")).toHaveTextContent(
      "without an organization-wide Admin",
    );
    expect(screen.getByLabelText("Project access of dev@example.com")).toHaveValue("p1");
  });

  it("adds a member with a role and project access", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects": () => projects,
      "GET /api/v1/members": () => members,
      "POST /api/v1/members": ({ body }) => [201, { ...members.data[1], ...(body as object) }],
    });
    renderPage(<MembersPage />);
    await userEvent.type(await screen.findByLabelText("Email"), "new@example.com");
    await userEvent.selectOptions(screen.getByLabelText("Role"), "Editor");
    await userEvent.selectOptions(screen.getByLabelText("Project access"), "p1");
    await userEvent.click(screen.getByRole("button", { name: "Add member" }));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      email: "new@example.com",
      role: "Editor",
      project_id: "p1",
    });
  });

  it("shows a Viewer the members read-only", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Viewer"),
      "GET /api/v1/projects": () => projects,
      "GET /api/v1/members": () => members,
    });
    renderPage(<MembersPage />);
    const row = (await screen.findByText("dev@example.com")).closest("tr") as HTMLElement;
    expect(row).toHaveTextContent("support-bot");
    expect(screen.queryByRole("combobox")).toBeNull();
    expect(screen.queryByRole("button", { name: "Remove" })).toBeNull();
    expect(screen.getByText(/Only Admins can add, change or remove members/)).toBeInTheDocument();
  });
});
