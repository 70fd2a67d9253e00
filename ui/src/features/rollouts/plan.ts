// The "start a rollout" form's plan: text fields as typed, turned into the API's CanaryPlan.
// Only the syntax is checked here (numbers, lists of numbers); the API judges the rest and its
// 422 names the field (plan.steps, plan.bake_time_s, ...), shown next to it.
import type { components } from "../../api/schema";

/** The request's plan. Fields left out take the API's defaults (the generated type marks
 * fields with defaults as present, hence Partial). */
export type CanaryPlanBody = Partial<components["schemas"]["CanaryPlan-Input"]>;

export interface PlanForm {
  steps: string;
  bake: string;
  checkInterval: string;
  minSamples: string;
  maxErrorRateIncrease: string;
  maxP95LatencyMs: string;
  maxFeedbackDrop: string;
  minEvalScore: string;
}

/** The API's defaults (api/schemas/deployments.py CanaryPlan). */
export const DEFAULT_PLAN: PlanForm = {
  steps: "10, 50, 100",
  bake: "3600",
  checkInterval: "",
  minSamples: "20",
  maxErrorRateIncrease: "0.02",
  maxP95LatencyMs: "",
  maxFeedbackDrop: "",
  minEvalScore: "0.70",
};

/** The API field each form field fills. */
export const PLAN_FIELDS: Record<keyof PlanForm, string> = {
  steps: "plan.steps",
  bake: "plan.bake_time_s",
  checkInterval: "plan.check_interval_s",
  minSamples: "plan.min_samples",
  maxErrorRateIncrease: "plan.max_error_rate_increase",
  maxP95LatencyMs: "plan.max_p95_latency_ms",
  maxFeedbackDrop: "plan.max_feedback_drop",
  minEvalScore: "plan.min_eval_score",
};

function number(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : Number.NaN;
}

function numbers(text: string): number[] {
  return text
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((t) => (Number.isFinite(Number(t)) ? Number(t) : Number.NaN));
}

/** The plan to send, or the fields that are not numbers (keyed like the API's ``loc``). */
export function toPlan(form: PlanForm): { plan: CanaryPlanBody; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const steps = numbers(form.steps);
  if (steps.length === 0 || steps.some(Number.isNaN)) {
    errors[PLAN_FIELDS.steps] = "Give the canary weights in percent, e.g. 10, 50, 100.";
  }
  const bakes = numbers(form.bake);
  if (bakes.length === 0 || bakes.some((b) => Number.isNaN(b) || !Number.isInteger(b))) {
    errors[PLAN_FIELDS.bake] = "Give whole seconds: one number, or one per step below 100%.";
  }
  const plan: CanaryPlanBody = {
    steps,
    bake_time_s: bakes.length === 1 ? bakes[0] : bakes,
  };
  const optional: [keyof PlanForm, keyof CanaryPlanBody, boolean][] = [
    ["checkInterval", "check_interval_s", true],
    ["minSamples", "min_samples", true],
    ["maxErrorRateIncrease", "max_error_rate_increase", false],
    ["maxP95LatencyMs", "max_p95_latency_ms", false],
    ["maxFeedbackDrop", "max_feedback_drop", false],
    ["minEvalScore", "min_eval_score", false],
  ];
  for (const [field, key, integer] of optional) {
    const value = number(form[field]);
    if (value !== null && (Number.isNaN(value) || (integer && !Number.isInteger(value)))) {
      errors[PLAN_FIELDS[field]] = integer ? "Give a whole number." : "Give a number.";
      continue;
    }
    // An empty minimum eval score disables the gate (null); other empty fields take the
    // API's defaults (left out).
    if (value !== null || key === "min_eval_score") {
      (plan as Record<string, unknown>)[key] = value;
    }
  }
  return { plan, errors };
}
