import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { ProviderKeysPage } from "./ProviderKeysPage";

afterEach(() => vi.restoreAllMocks());

// Typing through user-event is slow on a loaded machine: a generous per-test limit, no
// timing asserted.
describe("ProviderKeysPage", { timeout: 30_000 }, () => {
  it("shows the API's refusal of api_base next to that field, and never the key", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/provider_keys": () => ({ data: [], count: 0 }),
      "POST /api/v1/provider_keys": () => [
        422,
        {
          detail: [
            {
              loc: ["body", "api_base"],
              msg: "api_base: must be an http(s) URL with a host",
              type: "invalidinput",
            },
          ],
        },
      ],
    });
    renderPage(<ProviderKeysPage />);
    await userEvent.type(await screen.findByLabelText("Provider"), "openai");
    await userEvent.type(screen.getByLabelText("Name"), "team");
    await userEvent.type(screen.getByLabelText("Key"), "sk-test-1234");
    await userEvent.type(screen.getByLabelText("API base (optional)"), "ftp://nowhere");
    await userEvent.click(screen.getByRole("button", { name: "Add provider key" }));

    const base = screen.getByLabelText("API base (optional)");
    expect(
      await screen.findByText("api_base: must be an http(s) URL with a host", {
        selector: ".field-error",
      }),
    ).toHaveAttribute("id", "pk-api_base-error");
    expect(base).toHaveAttribute("aria-invalid", "true");
    expect(base.getAttribute("aria-describedby")).toContain("pk-api_base-error");
    expect(screen.getByLabelText("Key")).toHaveAttribute("type", "password");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      provider: "openai",
      name: "team",
      api_key: "sk-test-1234",
      api_base: "ftp://nowhere",
    });
  });

  it("lists keys by their hint only", async () => {
    fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/provider_keys": () => ({
        data: [
          {
            id: "pk-1",
            provider: "openai",
            name: "team",
            hint: "abcd",
            api_base: null,
            key_id: "k1",
            created_by: "admin@example.com",
            created_at: "2026-12-01T10:00:00Z",
          },
        ],
        count: 1,
      }),
    });
    renderPage(<ProviderKeysPage />);
    expect(await screen.findByText("…abcd")).toBeInTheDocument();
    expect(screen.getByText("provider default")).toBeInTheDocument();
  });

  it("replaces a key's secret in place and shows the API's refusal next to the key field", async () => {
    let attempt = 0;
    const stored = {
      id: "pk-1",
      provider: "openai",
      name: "team",
      hint: "abcd",
      api_base: "https://old.example.com/v1",
      key_id: "k1",
      created_by: "admin@example.com",
      created_at: "2026-12-01T10:00:00Z",
    };
    const calls = fakeApi({
      "GET /api/v1/me": () => me("Admin"),
      "GET /api/v1/provider_keys": () => ({
        data: [attempt > 1 ? { ...stored, hint: "wxyz", api_base: null } : stored],
        count: 1,
      }),
      "PUT /api/v1/provider_keys/{credential_id}": () => {
        attempt += 1;
        return attempt === 1
          ? [
              422,
              {
                detail: [
                  { loc: ["body", "api_key"], msg: "api_key must be visible ASCII", type: "x" },
                ],
              },
            ]
          : { ...stored, hint: "wxyz", api_base: null };
      },
    });
    renderPage(<ProviderKeysPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Replace team" }));
    const key = screen.getByLabelText("New key for team");
    const base = screen.getByLabelText("API base for team (optional)");
    expect(key).toHaveAttribute("type", "password");
    expect(base).toHaveValue("https://old.example.com/v1");
    await userEvent.type(key, "bad key");
    await userEvent.click(screen.getByRole("button", { name: "Replace key" }));
    expect(await screen.findByText("api_key must be visible ASCII")).toHaveAttribute(
      "id",
      "pk-pk-1-api_key-error",
    );
    expect(key).toHaveAttribute("aria-invalid", "true");

    await userEvent.clear(key);
    await userEvent.type(key, "sk-new-secret-wxyz");
    await userEvent.clear(base);
    await userEvent.click(screen.getByRole("button", { name: "Replace key" }));
    expect(await screen.findByText("…wxyz")).toBeInTheDocument();
    expect(screen.queryByLabelText("New key for team")).toBeNull();
    const put = calls.filter((c) => c.method === "PUT");
    expect(put[1]).toMatchObject({
      params: { path: { credential_id: "pk-1" } },
      body: { api_key: "sk-new-secret-wxyz", api_base: null },
    });
    expect(document.body.textContent).not.toContain("sk-new-secret-wxyz");
  });

  it("tells a non-Admin why there is nothing to manage, without asking the API", async () => {
    const calls = fakeApi({ "GET /api/v1/me": () => me("Editor") });
    renderPage(<ProviderKeysPage />);
    expect(
      await screen.findByText(
        /Only Admins can see and manage provider keys; you are signed in as an Editor/,
      ),
    ).toBeInTheDocument();
    expect(calls.map((c) => c.path)).toEqual(["/api/v1/me"]);
    expect(screen.queryByRole("button", { name: "Add provider key" })).toBeNull();
  });
});
