import { describe, expect, it } from "vitest";
import { errorLine, previewValue, variableRanges } from "./template";

describe("variableRanges", () => {
  it("finds a name where tags read it, not in plain text, strings or attributes", () => {
    const text = 'city: {{ city }}\n{% if city %}{{ "city" }} {{ user.city }}{% endif %}';
    expect(variableRanges(text, ["city"])).toEqual([
      { line: 1, startColumn: 10, endColumn: 14, name: "city" },
      { line: 2, startColumn: 7, endColumn: 11, name: "city" },
    ]);
  });

  it("only the names asked for", () => {
    expect(variableRanges("{{ a }} {{ b | upper }}", ["b"])).toEqual([
      { line: 1, startColumn: 12, endColumn: 13, name: "b" },
    ]);
    expect(variableRanges("{{ a }}", [])).toEqual([]);
  });
});

describe("errorLine", () => {
  it("reads the line a syntax error names", () => {
    expect(errorLine("body: template syntax error on line 2: unexpected end")).toBe(2);
    expect(errorLine("variables used in the template but not declared: x")).toBeNull();
  });
});

describe("previewValue", () => {
  it("keeps text for str variables and reads JSON for others", () => {
    expect(previewValue("str", "[1]")).toBe("[1]");
    expect(previewValue("", "42")).toBe("42");
    expect(previewValue("list", '["a", "b"]')).toEqual(["a", "b"]);
    expect(previewValue("int", "42")).toBe(42);
    expect(previewValue("int", "not json")).toBe("not json");
  });
});
