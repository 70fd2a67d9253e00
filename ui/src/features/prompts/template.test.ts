import { describe, expect, it } from "vitest";
import { errorLine, markersFor, previewValue, variableRanges } from "./template";

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

describe("markersFor", () => {
  const problems = [
    { field: "body", message: "template syntax error on line 2: unexpected '}'", names: [] },
    {
      field: "variables",
      message: "variables used in the template but not declared: city",
      names: ["city"],
    },
    { field: "variables", message: "variables declared but not used in the template: x", names: ["x"] },
    { field: "values", message: "no value to render with for: city", names: ["city"] },
  ];

  it("puts a field's syntax error on the line it names, and only in that field", () => {
    const body = markersFor("Hi\n{{ oops }", "body", problems);
    expect(body).toContainEqual({
      severity: "error",
      message: "template syntax error on line 2: unexpected '}'",
      line: 2,
    });
    expect(markersFor("plain", "system", problems)).toEqual([]);
  });

  it("marks each place an undeclared variable is read, naming it", () => {
    expect(markersFor("From {{ city }} to {{ city|upper }}", "system", problems)).toEqual([
      { severity: "warning", message: "city is used but not declared", line: 1, startColumn: 9, endColumn: 13 },
      { severity: "warning", message: "city is used but not declared", line: 1, startColumn: 23, endColumn: 27 },
    ]);
  });

  it("a syntax error without a line goes on line 1", () => {
    expect(markersFor("x", "body", [{ field: "body", message: "bad", names: [] }])).toEqual([
      { severity: "error", message: "bad", line: 1 },
    ]);
  });
});
