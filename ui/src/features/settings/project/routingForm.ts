// A routing policy's form state and the body of PUT .../routing_policies/{name}.
import type { components } from "../../../api/schema";
import { numberOrNull } from "../format";

type Policy = components["schemas"]["RoutingPolicyPublic"];
export type Strategy = components["schemas"]["RoutingPolicyPut"]["strategy"];
export type PolicyBody = components["schemas"]["RoutingPolicyPut"];

export const STRATEGIES: { value: Strategy; label: string; help: string }[] = [
  { value: "cost_first", label: "Cost first", help: "cheapest estimated cost per request first" },
  {
    value: "quality_first",
    label: "Quality first",
    help: "highest mean evaluation score (30 days) first; unscored models last",
  },
  {
    value: "latency_first",
    label: "Latency first",
    help: "lowest rolling p95 latency first; unmeasured models last",
  },
];

export interface PolicyForm {
  name: string;
  strategy: Strategy;
  candidates: string[];
  fallbacks: string[];
  maxP95: string;
  minQuality: string;
  maxCost: string;
  description: string;
}

export function emptyForm(): PolicyForm {
  return {
    name: "",
    strategy: "cost_first",
    candidates: [],
    fallbacks: [],
    maxP95: "",
    minQuality: "",
    maxCost: "",
    description: "",
  };
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

export function formFromPolicy(policy: Policy): PolicyForm {
  const c = policy.constraints as Record<string, unknown>;
  return {
    name: policy.name,
    strategy: policy.strategy as Strategy,
    candidates: [...policy.candidates],
    fallbacks: [...policy.fallbacks],
    maxP95: text(c.max_p95_latency_ms),
    minQuality: text(c.min_quality),
    maxCost: text(c.max_cost_usd),
    description: policy.description,
  };
}

/** The PUT body: blank constraints are left unset (no limit); text that is not a number is
 * sent as it is so the API names the field. */
export function bodyFromForm(form: PolicyForm): PolicyBody {
  return {
    strategy: form.strategy,
    candidates: form.candidates,
    fallbacks: form.fallbacks,
    constraints: {
      max_p95_latency_ms: numberOrNull(form.maxP95) as number | null,
      min_quality: numberOrNull(form.minQuality) as number | null,
      max_cost_usd: numberOrNull(form.maxCost) as number | null,
    },
    description: form.description,
  };
}

/** Move the item at ``index`` by ``delta`` places (within bounds). */
export function move<T>(items: T[], index: number, delta: number): T[] {
  const target = index + delta;
  if (target < 0 || target >= items.length) return items;
  const out = [...items];
  [out[index], out[target]] = [out[target] as T, out[index] as T];
  return out;
}

/** One line of a policy's constraints, e.g. "p95 ≤ 800 ms · quality ≥ 0.7". */
export function constraintsText(constraints: Record<string, unknown>): string {
  const parts: string[] = [];
  if (constraints.max_p95_latency_ms != null)
    parts.push(`p95 ≤ ${constraints.max_p95_latency_ms} ms`);
  if (constraints.min_quality != null) parts.push(`quality ≥ ${constraints.min_quality}`);
  if (constraints.max_cost_usd != null) parts.push(`cost ≤ $${constraints.max_cost_usd}`);
  return parts.length ? parts.join(" · ") : "none";
}
