import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { DataValue, valueText } from "./DataValue";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

describe("DataValue", SLOW, () => {
  it("shows strings as they are, flat objects as key: value lines, the rest as JSON", () => {
    expect(valueText("Paris")).toBe("Paris");
    expect(valueText({ country: "France", n: 2 })).toBe("country: France\nn: 2");
    expect(valueText({ a: { b: 1 } })).toBe('{\n  "a": {\n    "b": 1\n  }\n}');
    expect(valueText(null)).toBe("");
  });

  it("cuts long text and shows the rest on request", async () => {
    render(<DataValue value={"x".repeat(50)} max={10} />);
    expect(screen.getByText(`${"x".repeat(10)}…`)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show all 50 characters" }));
    expect(screen.getByText("x".repeat(50))).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Show less" })).toHaveAttribute("aria-expanded", "true");
  });
});
