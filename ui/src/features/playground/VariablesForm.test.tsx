import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import type { ApiProblem } from "../../api/errors";
import { VariablesForm, coerce, filledVariables } from "./VariablesForm";

function Harness({ declared, error }: { declared: Record<string, unknown>; error?: ApiProblem }) {
  const [values, setValues] = useState<Record<string, string>>({});
  return (
    <>
      <VariablesForm
        declared={declared}
        values={values}
        onChange={(name, value) => setValues((old) => ({ ...old, [name]: value }))}
        error={error ?? null}
      />
      <output data-testid="sent">{JSON.stringify(filledVariables(values, declared))}</output>
    </>
  );
}

describe("VariablesForm", () => {
  it("has one labelled field per declared variable, with its type", async () => {
    render(<Harness declared={{ topic: "str", count: "int" }} />);
    expect(screen.getByLabelText("topic (str)")).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("count (int)"), "3");
    await userEvent.type(screen.getByLabelText("topic (str)"), "otters");
    // Typed as declared; nothing else sent.
    expect(JSON.parse(screen.getByTestId("sent").textContent ?? "")).toEqual({
      topic: "otters",
      count: 3,
    });
  });

  it("says so when the version declares none", () => {
    render(<Harness declared={{}} />);
    expect(screen.getByText("This version declares no variables.")).toBeInTheDocument();
  });

  it("shows the API's message for a missing variable next to its field", () => {
    const error: ApiProblem = {
      status: 422,
      message: "variables.topic: missing variable",
      fields: { "variables.topic": "missing variable 'topic'" },
    };
    render(<Harness declared={{ topic: "str", tone: "str" }} error={error} />);
    const topic = screen.getByLabelText("topic (str)");
    expect(topic).toHaveAttribute("aria-invalid", "true");
    expect(topic).toHaveAccessibleDescription("missing variable 'topic'");
    expect(screen.getByLabelText("tone (str)")).not.toHaveAttribute("aria-invalid");
  });
});

describe("filledVariables", () => {
  it("leaves empty fields out so the API can name them", () => {
    expect(filledVariables({ a: "", b: "x" }, { a: "str", b: "str", c: "str" })).toEqual({
      b: "x",
    });
  });
});

describe("coerce", () => {
  it("types values as declared and keeps text that does not parse", () => {
    expect(coerce("float", "0.5")).toBe(0.5);
    expect(coerce("int", "many")).toBe("many");
    expect(coerce("bool", "True")).toBe(true);
    expect(coerce("bool", "false")).toBe(false);
    expect(coerce("list", "[1, 2]")).toEqual([1, 2]);
    expect(coerce("dict", "{oops")).toBe("{oops");
    expect(coerce("str", "42")).toBe("42");
    expect(coerce({ type: "object" }, "42")).toBe("42");
  });
});
