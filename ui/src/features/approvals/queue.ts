// What the approvals pages decide about an approval: may the caller review it, and how its
// golden-set check stands. Mirrors the API's rules (ApprovalWorkflow's update validators), so
// the queue can tell a reviewer what waits for them; the API stays the judge.
import type { components } from "../../api/schema";
import { atLeast } from "../../auth/me";

export type Approval = components["schemas"]["ApprovalPublic"];

export const OPEN_STATUSES = ["Checking", "Pending"];
export const ALL_STATUSES = ["Checking", "Pending", "Approved", "Rejected", "Expired", "CheckFailed"];

const same = (a: string | null | undefined, b: string | null | undefined) =>
  Boolean(a) && Boolean(b) && a!.trim().toLowerCase() === b!.trim().toLowerCase();

/** Why the caller cannot decide on ``approval`` now, or null when they can. */
export function reviewBlock(
  approval: Approval,
  actor: string | undefined,
  role: string | undefined,
): string | null {
  if (!atLeast(role, "Editor")) return "Editors and Admins review";
  if (approval.status === "Checking") return "the golden-set check is still running";
  if (approval.status !== "Pending") return `closed (${approval.status})`;
  if (approval.phase === "starting") return "the workflow has not started waiting for reviews yet";
  if (same(approval.author, actor)) return "you wrote this version";
  const reviewers = approval.reviewers ?? [];
  if (reviewers.length > 0 && !reviewers.some((r) => same(r, actor))) {
    return "you are not one of the policy's reviewers";
  }
  if ((approval.decisions ?? []).some((d) => same(d.reviewer, actor))) {
    return "you already decided";
  }
  return null;
}

export interface CheckState {
  tone: "good" | "bad" | "info" | "neutral";
  text: string;
}

const score = (value: number) => value.toFixed(2);

/** The golden-set check of an approval in words: none, running, passed or failed. */
export function checkState(approval: Approval): CheckState {
  const metric = approval.eval_metric;
  const min = approval.min_eval_score;
  if (metric == null || min == null) return { tone: "neutral", text: "No golden-set check" };
  const value = approval.eval_score;
  if (value == null) {
    if (approval.status === "Checking" || approval.phase === "checking") {
      return { tone: "info", text: `Running (${metric} ≥ ${score(min)} needed)` };
    }
    if (approval.status === "CheckFailed") return { tone: "bad", text: "Failed: no score" };
    return { tone: "neutral", text: `Not run (${metric} ≥ ${score(min)} needed)` };
  }
  return value >= min
    ? { tone: "good", text: `Passed: ${metric} ${score(value)} ≥ ${score(min)}` }
    : { tone: "bad", text: `Failed: ${metric} ${score(value)} < ${score(min)}` };
}

/** Open approvals first split into those the caller may decide now and the others. */
export function splitQueue(
  approvals: Approval[],
  actor: string | undefined,
  role: string | undefined,
): { mine: Approval[]; others: Approval[] } {
  const mine: Approval[] = [];
  const others: Approval[] = [];
  for (const a of approvals) (reviewBlock(a, actor, role) === null ? mine : others).push(a);
  return { mine, others };
}
