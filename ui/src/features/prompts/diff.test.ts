import { describe, expect, it } from "vitest";
import { sideBySide } from "./diff";

describe("sideBySide", () => {
  it("pairs a removed run with the added run that replaced it, context on both sides", () => {
    const text = [
      "--- v1",
      "+++ v2",
      "@@ -1,3 +1,4 @@",
      " Intro",
      "-Q: {{ q }}",
      "+Question: {{ q }}",
      "+Be brief.",
      " A:",
      "\\ No newline at end of file",
      "",
    ].join("\n");
    expect(sideBySide(text)).toEqual([
      { type: "hunk", header: "@@ -1,3 +1,4 @@", fromLine: 1, toLine: 1 },
      {
        type: "line",
        left: { no: 1, text: "Intro", kind: "context" },
        right: { no: 1, text: "Intro", kind: "context" },
      },
      {
        type: "line",
        left: { no: 2, text: "Q: {{ q }}", kind: "removed" },
        right: { no: 2, text: "Question: {{ q }}", kind: "added" },
      },
      { type: "line", left: null, right: { no: 3, text: "Be brief.", kind: "added" } },
      {
        type: "line",
        left: { no: 3, text: "A:", kind: "context" },
        right: { no: 4, text: "A:", kind: "context" },
      },
    ]);
  });

  it("numbers lines from each hunk's header and keeps removals without a replacement", () => {
    const text = "--- v2\n+++ v3\n@@ -10,2 +12 @@\n keep\n-gone\n";
    const rows = sideBySide(text);
    expect(rows[0]).toMatchObject({ type: "hunk", fromLine: 10, toLine: 12 });
    expect(rows[2]).toEqual({
      type: "line",
      left: { no: 11, text: "gone", kind: "removed" },
      right: null,
    });
  });

  it("has no rows for identical bodies", () => {
    expect(sideBySide("")).toEqual([]);
  });

  it("does not take the file headers for removed or added lines", () => {
    const rows = sideBySide("--- v1\n+++ v2\n@@ -1 +1 @@\n--- a rule\n++ plus\n");
    expect(rows[1]).toEqual({
      type: "line",
      left: { no: 1, text: "-- a rule", kind: "removed" },
      right: { no: 1, text: "+ plus", kind: "added" },
    });
  });
});
