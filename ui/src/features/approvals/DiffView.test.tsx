import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DiffView, parseUnifiedDiff } from "./DiffView";

const DIFF = [
  "--- v1",
  "+++ v2",
  "@@ -1 +1,2 @@",
  "+Answer in one word.",
  " The capital of {{ country }} is",
  "-old",
  "\\ No newline at end of file",
  "",
].join("\n");

describe("parseUnifiedDiff", () => {
  it("types each line of a unified diff", () => {
    expect(parseUnifiedDiff(DIFF).map((l) => l.kind)).toEqual([
      "file",
      "file",
      "hunk",
      "add",
      "ctx",
      "del",
      "note",
    ]);
  });
});

describe("DiffView", () => {
  it("names added and removed lines in words, not only by colour", () => {
    render(<DiffView diff={DIFF} label="Body changes" />);
    const region = screen.getByRole("region", { name: "Body changes" });
    expect(region.textContent).toContain("added: +Answer in one word.");
    expect(region.textContent).toContain("removed: -old");
    expect(region.textContent).not.toContain("+++ v2");
  });

  it("says when the bodies are identical", () => {
    render(<DiffView diff="" label="Body changes" />);
    expect(screen.getByText("The bodies are identical.")).toBeInTheDocument();
  });
});
