import { describe, expect, it } from "vitest";
import { checkState, reviewBlock, splitQueue, type Approval } from "./queue";

function approval(extra: Partial<Approval> = {}): Approval {
  return {
    id: "approval-v-1",
    workflow_id: "approval-v-1",
    prompt_version_id: "v",
    status: "Pending",
    phase: "waiting",
    live: true,
    required_approvals: 1,
    approvals: 0,
    reason: "",
    temporal_ui_url: "http://t/approval-v-1",
    author: "author@example.com",
    reviewers: [],
    decisions: [],
    ...extra,
  };
}

describe("reviewBlock", () => {
  it("lets an Editor who did not write the version decide a pending approval", () => {
    expect(reviewBlock(approval(), "rev@example.com", "Editor")).toBeNull();
  });

  it("names why the caller cannot decide", () => {
    expect(reviewBlock(approval(), "rev@example.com", "Viewer")).toBe("Editors and Admins review");
    expect(reviewBlock(approval({ status: "Checking" }), "rev@example.com", "Admin")).toMatch(
      /check is still running/,
    );
    expect(reviewBlock(approval({ status: "Approved" }), "rev@example.com", "Admin")).toBe(
      "closed (Approved)",
    );
    expect(reviewBlock(approval({ phase: "starting" }), "rev@example.com", "Admin")).toMatch(
      /not started waiting/,
    );
    expect(reviewBlock(approval(), "Author@Example.com", "Admin")).toBe("you wrote this version");
    expect(
      reviewBlock(approval({ reviewers: ["other@example.com"] }), "rev@example.com", "Editor"),
    ).toMatch(/not one of the policy's reviewers/);
    expect(
      reviewBlock(
        approval({ decisions: [{ reviewer: "rev@example.com", decision: "approve", comment: "" }] }),
        "rev@example.com",
        "Editor",
      ),
    ).toBe("you already decided");
  });

  it("splits a queue into what waits for the caller and the rest", () => {
    const mine = approval({ id: "a" });
    const own = approval({ id: "b", author: "rev@example.com" });
    expect(splitQueue([mine, own], "rev@example.com", "Editor")).toEqual({
      mine: [mine],
      others: [own],
    });
  });
});

describe("checkState", () => {
  it("reads a check as none, running, passed or failed", () => {
    expect(checkState(approval()).text).toBe("No golden-set check");
    const policy = { eval_metric: "token_f1", min_eval_score: 0.7 };
    expect(checkState(approval({ ...policy, status: "Checking", phase: "checking" }))).toEqual({
      tone: "info",
      text: "Running (token_f1 ≥ 0.70 needed)",
    });
    expect(checkState(approval({ ...policy, eval_score: 0.82 }))).toEqual({
      tone: "good",
      text: "Passed: token_f1 0.82 ≥ 0.70",
    });
    expect(checkState(approval({ ...policy, eval_score: 0.5, status: "CheckFailed" })).tone).toBe(
      "bad",
    );
  });
});
