import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SignIn } from "./SignIn";
import { getKey } from "./session";

afterEach(() => {
  vi.restoreAllMocks();
  sessionStorage.clear();
});

describe("SignIn", () => {
  it("keeps a key the API accepts", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("{}", { status: 200 }));
    render(<SignIn />);
    await userEvent.type(screen.getByLabelText("API key"), "po_abc_def");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(getKey()).toBe("po_abc_def");
  });

  it("shows the API's reason for a refused key, next to the field", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response(JSON.stringify({ detail: "this API key was revoked" }), { status: 401 }),
    );
    render(<SignIn />);
    await userEvent.type(screen.getByLabelText("API key"), "po_abc_def");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("this API key was revoked");
    expect(getKey()).toBeNull();
    expect(screen.getByLabelText("API key")).toHaveAttribute("aria-invalid", "true");
  });
});
