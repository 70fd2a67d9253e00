// The guard figures of a rollout over time: its stored checks (GET /deployments/{id}/checks),
// fetched incrementally while it runs, and one series per guard figure for the charts.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";

export type Check = components["schemas"]["DeploymentCheckPublic"];
export type ArmFigures = components["schemas"]["ArmFigures"];
export type Plan = components["schemas"]["CanaryPlan-Output"];
type FigureKey = "error_rate" | "p95_latency_ms" | "mean_feedback" | "mean_outcome" | "eval_score" | "n";

const PAGE = 1000;

/** Every check of a deployment, oldest first. The first fetch reads them all; later ones
 * (every 2 s while ``live``) ask only for checks after the last one held. */
export function useChecks(deploymentId: string, live: boolean) {
  const queryClient = useQueryClient();
  const key = ["deployment-checks", deploymentId];
  return useQuery({
    queryKey: key,
    queryFn: async () => {
      const held = queryClient.getQueryData<Check[]>(key) ?? [];
      const out = [...held];
      for (;;) {
        const after = out.length ? out[out.length - 1].check_index : 0;
        const page = unwrap(
          await api.GET("/api/v1/deployments/{deployment_id}/checks", {
            params: { path: { deployment_id: deploymentId }, query: { after, limit: PAGE } },
          }),
        );
        out.push(...page.data);
        if (page.count < PAGE) return out;
      }
    },
    refetchInterval: live ? 2000 : false,
  });
}

export interface Metric {
  key: FigureKey;
  title: string;
  /** Which way the guard's limit points: values above a ceiling, or below a floor, breach. */
  limitKind: "ceiling" | "floor";
  /** What the guard compares with, in words. */
  guard: (plan: Plan) => string;
  /** The limit at a check (null: this guard is off). */
  limit: (plan: Plan, baseline: ArmFigures) => number | null;
  format: (value: number) => string;
  /** The largest value the figure can take (rates and scores: 1), so the axis stops there. */
  max?: number;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const fixed2 = (v: number) => v.toFixed(2);

/** Mean feedback and mean outcome share one guard: the canary at most ``max_feedback_drop``
 * below the baseline. */
function feedbackFloor(key: "mean_feedback" | "mean_outcome", title: string): Metric {
  return {
    key,
    title,
    limitKind: "floor",
    guard: (p) =>
      p.max_feedback_drop == null
        ? "not checked"
        : `canary at most ${fixed2(p.max_feedback_drop)} below the baseline`,
    limit: (p, b) => {
      const base = b[key];
      return p.max_feedback_drop == null || base == null ? null : base - p.max_feedback_drop;
    },
    format: fixed2,
    max: 1,
  };
}

export const METRICS: Metric[] = [
  {
    key: "error_rate",
    title: "Error rate",
    limitKind: "ceiling",
    guard: (p) => `canary at most ${pct(p.max_error_rate_increase)} above the baseline`,
    limit: (p, b) => (b.error_rate == null ? null : b.error_rate + p.max_error_rate_increase),
    format: pct,
    max: 1,
  },
  {
    key: "p95_latency_ms",
    title: "p95 latency",
    limitKind: "ceiling",
    guard: (p) =>
      p.max_p95_latency_ms == null ? "no limit" : `canary at most ${p.max_p95_latency_ms} ms`,
    limit: (p) => p.max_p95_latency_ms ?? null,
    format: (v) => `${Math.round(v)} ms`,
  },
  feedbackFloor("mean_feedback", "Mean feedback"),
  feedbackFloor("mean_outcome", "Mean outcome"),
  {
    key: "eval_score",
    title: "Online eval score",
    limitKind: "floor",
    guard: (p) =>
      p.min_eval_score == null
        ? "no gate"
        : `at least ${fixed2(p.min_eval_score)} to go beyond the first step`,
    limit: (p) => p.min_eval_score ?? null,
    format: fixed2,
    max: 1,
  },
  {
    key: "n",
    title: "Runs in the bake window",
    limitKind: "floor",
    guard: (p) => `at least ${p.min_samples} per arm by the end of each bake`,
    limit: (p) => (p.min_samples > 0 ? p.min_samples : null),
    format: (v) => String(Math.round(v)),
  },
];

export interface Point {
  /** Milliseconds since the epoch of the check. */
  t: number;
  check: number;
  step: number;
  weight: number;
  baseline: number | null;
  canary: number | null;
  limit: number | null;
}

/** One metric's points, one per check. */
export function series(checks: Check[], metric: Metric, plan: Plan): Point[] {
  return checks.map((c) => ({
    t: new Date(c.checked_at).getTime(),
    check: c.check_index,
    step: c.step_index,
    weight: c.canary_weight,
    baseline: c.baseline[metric.key] ?? null,
    canary: c.canary[metric.key] ?? null,
    limit: metric.limit(plan, c.baseline),
  }));
}
