import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { NewEvaluationForm } from "./NewEvaluationForm";

// Generous: the suite shares 2 cores with other builds; nothing here is about speed.
const SLOW = { timeout: 60_000 };

afterEach(() => unmockApi());

const version = (id: string, n: number) => ({
  id,
  prompt_id: "pr",
  version: n,
  body: "",
  system: null,
  variables: {},
  notes: n === 2 ? "specific wording" : "",
  model: null,
  decoding: {},
  response_format: null,
  content_hash: "h",
  status: "Draft",
  created_by: "me",
  created_at: "2026-12-01T10:00:00Z",
});

function routes(run: () => Response) {
  return mockApi({
    "GET /api/v1/projects/p1/prompts": () =>
      json({ data: [{ id: "pr", project_id: "p1", name: "subject", description: "" }], count: 1 }),
    // Listed newest first by the API: the form lists (and sends) them by number.
    "GET /api/v1/prompts/pr/versions": () => json({ data: [version("v2", 2), version("v1", 1)], count: 2 }),
    "GET /api/v1/datasets": () =>
      json({
        data: [
          {
            id: "d1",
            project_id: "p1",
            name: "golden",
            task_type: "generation",
            description: "",
            created_at: "2026-12-01T10:00:00Z",
            example_count: 4,
          },
        ],
        count: 1,
      }),
    "GET /api/v1/evals/metrics": () =>
      json({
        data: [
          { name: "token_f1", kind: "text", higher_is_better: true, description: "F1" },
          { name: "rouge1", kind: "text", higher_is_better: true, description: "R1" },
          { name: "latency_ms", kind: "latency", higher_is_better: false, description: "ms" },
          { name: "cost_usd", kind: "cost", higher_is_better: false, description: "USD" },
        ],
        count: 4,
      }),
    "POST /api/v1/evals/run": run,
  });
}

describe("NewEvaluationForm", SLOW, () => {
  it("starts an evaluation of the chosen versions, baseline first, and opens it", async () => {
    const calls = routes(() =>
      json({ id: "eval-new", workflow_id: "eval-new", temporal_ui_url: "x" }, 202),
    );
    renderPage(<NewEvaluationForm projectId="p1" initialDataset="d1" />);
    await userEvent.click(await screen.findByLabelText(/subject v2/));
    await userEvent.click(screen.getByLabelText(/subject v1/));
    expect(screen.getByText(/The first one chosen \(subject v1\) is the baseline/)).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/rouge1/));
    await userEvent.clear(screen.getByLabelText("Only the first N examples"));
    await userEvent.type(screen.getByLabelText("Only the first N examples"), "3");
    await userEvent.click(screen.getByRole("button", { name: "Start evaluation" }));
    expect(await screen.findByText("elsewhere")).toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST");
    expect(await post?.request.json()).toEqual({
      prompt_version_ids: ["v1", "v2"],
      dataset_id: "d1",
      metrics: ["token_f1", "latency_ms", "cost_usd", "rouge1"],
      concurrency: 4,
      chunk_size: 0,
      positive_label: null,
      limit: 3,
    });
  });

  it("shows the API's refusal next to the field it names", async () => {
    routes(() =>
      json(
        {
          detail: [
            {
              loc: ["body", "prompt_version_ids"],
              msg: "List should have at least 1 item after validation, not 0",
              type: "too_short",
            },
          ],
        },
        422,
      ),
    );
    renderPage(<NewEvaluationForm projectId="p1" initialDataset="d1" />);
    await userEvent.click(await screen.findByRole("button", { name: "Start evaluation" }));
    const message = await screen.findByText(
      "List should have at least 1 item after validation, not 0",
      { selector: "#versions-error" },
    );
    expect(message).toBeInTheDocument();
    expect(screen.getByRole("group", { name: "Prompt versions" })).toHaveAttribute(
      "aria-describedby",
      "versions-hint versions-error",
    );
  });
});
