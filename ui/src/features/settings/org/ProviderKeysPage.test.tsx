import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, me, renderPage } from "../testing";
import { ProviderKeysPage } from "./ProviderKeysPage";

afterEach(() => vi.restoreAllMocks());

describe("ProviderKeysPage", () => {
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
