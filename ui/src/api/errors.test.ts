import { describe, expect, it } from "vitest";
import { toProblem } from "./errors";

describe("toProblem", () => {
  it("keeps a plain detail as the message", () => {
    expect(toProblem({ detail: "project 'x' not found" }, 404)).toEqual({
      status: 404,
      message: "project 'x' not found",
      fields: {},
    });
  });

  it("names each field of a 422 without the body/query prefix", () => {
    const problem = toProblem(
      { detail: [{ loc: ["body", "name"], msg: "must not be empty" }] },
      422,
    );
    expect(problem.fields).toEqual({ name: "must not be empty" });
    expect(problem.message).toBe("name: must not be empty");
  });

  it("strips only the leading location: a field may be named like one", () => {
    const problem = toProblem(
      { detail: [{ loc: ["body", "source", "path"], msg: "not a folder" }] },
      422,
    );
    expect(problem.fields).toEqual({ "source.path": "not a folder" });
    expect(toProblem({ detail: [{ loc: ["query", "limit"], msg: "too big" }] }, 422).fields).toEqual({
      limit: "too big",
    });
  });

  it("reads OpenAI's error shape", () => {
    expect(toProblem({ error: { message: "bad model" } }, 422).message).toBe("bad model");
  });
});
