import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { ApiKeysPage, keyStatus } from "./ApiKeysPage";

const base = {
  role: "Viewer",
  project_id: null,
  user_id: "user-1",
  user_email: "admin@example.com",
  created_by: "admin@example.com",
  created_at: "2026-12-01T10:00:00Z",
  last_used_at: null,
  expires_at: null,
  revoked_at: null,
  rotated_from: null,
  rate_limit_rpm: null,
};
const own = { ...base, id: "key-self", name: "signed in", prefix: "selfpfx" };

afterEach(() => vi.restoreAllMocks());

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("ApiKeysPage", { timeout: 30_000 }, () => {
  it("shows a new key once, in a dialog with a copy button, then only its prefix", async () => {
    let keys: Record<string, unknown>[] = [own];
    const created = {
      ...base,
      id: "key-new",
      name: "ci",
      prefix: "newpfx",
      role: "Editor",
      rate_limit_rpm: 60,
      key: "po_newpfx_s3cr3t",
      warning: "Store this key now: it is shown once and cannot be retrieved again.",
    };
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects": () => ({ data: [], count: 0 }),
      "GET /api/v1/members": () => ({ data: [], count: 0 }),
      "GET /api/v1/api_keys": () => ({ data: keys, count: keys.length }),
      "POST /api/v1/api_keys": () => {
        keys = [...keys, created];
        return [201, created];
      },
    });
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderPage(<ApiKeysPage />);

    await userEvent.type(await screen.findByLabelText("Name"), "ci");
    await userEvent.selectOptions(screen.getByLabelText("Role"), "Editor");
    await userEvent.type(screen.getByLabelText(/Rate limit/), "60");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));

    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByLabelText("Key")).toHaveValue("po_newpfx_s3cr3t");
    expect(dialog).toHaveTextContent("shown once");
    await userEvent.click(within(dialog).getByRole("button", { name: "Copy key" }));
    expect(writeText).toHaveBeenCalledWith("po_newpfx_s3cr3t");
    expect(await within(dialog).findByText("Copied to the clipboard.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toMatchObject({
      name: "ci",
      role: "Editor",
      rate_limit_rpm: 60,
      project_id: null,
      expires_at: null,
    });

    await userEvent.click(within(dialog).getByRole("button", { name: /close/ }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.queryByText(/s3cr3t/)).toBeNull();
    expect(await screen.findByText("po_newpfx_…")).toBeInTheDocument();
  });

  it("revokes after a confirmation, and never the key you are signed in with", async () => {
    const other = { ...base, id: "key-2", name: "old", prefix: "oldpfx" };
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/projects": () => ({ data: [], count: 0 }),
      "GET /api/v1/members": () => ({ data: [], count: 0 }),
      "GET /api/v1/api_keys": () => ({ data: [own, other], count: 2 }),
      "DELETE /api/v1/api_keys/{key_id}": () => ({ ...other, revoked_at: "2026-12-02T00:00:00Z" }),
    });
    renderPage(<ApiKeysPage />);

    const ownRow = (await screen.findByText("signed in")).closest("tr") as HTMLElement;
    expect(within(ownRow).getByRole("button", { name: "Revoke" })).toBeDisabled();
    expect(ownRow).toHaveTextContent("This is the key you are signed in with");

    const row = screen.getByText("old").closest("tr") as HTMLElement;
    await userEvent.click(within(row).getByRole("button", { name: "Revoke" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await userEvent.click(within(row).getByRole("button", { name: "Revoke old" }));
    expect(calls.find((c) => c.method === "DELETE")?.params).toEqual({
      path: { key_id: "key-2" },
    });
  });

  it("offers a Viewer only Viewer keys and no owner choice", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Viewer"),
      "GET /api/v1/projects": () => ({ data: [], count: 0 }),
      "GET /api/v1/api_keys": () => ({ data: [own], count: 1 }),
    });
    renderPage(<ApiKeysPage />);
    await screen.findByText("signed in");
    const role = screen.getByLabelText("Role");
    expect(
      within(role)
        .getAllByRole("option")
        .map((o) => o.textContent),
    ).toEqual(["Viewer"]);
    expect(screen.queryByLabelText("Owner")).toBeNull();
  });

  it("names a key revoked, expired or active", () => {
    const now = new Date("2026-12-05T00:00:00Z");
    expect(keyStatus({ ...own, revoked_at: "2026-12-01T00:00:00Z" } as never, now)).toBe("revoked");
    expect(keyStatus({ ...own, expires_at: "2026-12-04T00:00:00Z" } as never, now)).toBe("expired");
    expect(keyStatus({ ...own, expires_at: "2026-12-06T00:00:00Z" } as never, now)).toBe("active");
  });
});
