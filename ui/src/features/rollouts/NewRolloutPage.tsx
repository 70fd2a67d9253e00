import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap, type ApiProblem } from "../../api/errors";
import type { components } from "../../api/schema";
import { atLeast, useMe } from "../../auth/me";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { VersionPicker } from "../../components/VersionPicker";
import { DEFAULT_PLAN, PLAN_FIELDS, toPlan, type PlanForm } from "./plan";
import "./rollouts.css";

type Environment = "dev" | "staging" | "prod";

const FIELDS: { key: keyof PlanForm; label: string; hint: string }[] = [
  { key: "steps", label: "Steps (canary %)", hint: "Strictly rising, ending at 100, e.g. 10, 50, 100." },
  {
    key: "bake",
    label: "Bake time per step (s)",
    hint: "One number for every step below 100%, or one each (e.g. 600, 1800).",
  },
  { key: "checkInterval", label: "Check interval (s)", hint: "Empty: a quarter of the bake, at most 300." },
  { key: "minSamples", label: "Minimum runs per arm", hint: "Each arm needs this many by the end of a bake." },
  {
    key: "maxErrorRateIncrease",
    label: "Maximum error-rate increase (0–1)",
    hint: "0.02 lets the canary fail 2 points more often than the baseline.",
  },
  { key: "maxP95LatencyMs", label: "Maximum canary p95 latency (ms)", hint: "Empty: no limit." },
  {
    key: "maxFeedbackDrop",
    label: "Maximum feedback drop (0–1)",
    hint: "How far the canary's mean feedback or outcome may fall below the baseline's. Empty: not checked.",
  },
  {
    key: "minEvalScore",
    label: "Minimum eval score to go beyond the first step (0–1)",
    hint: "Empty: no gate.",
  },
];

/** Start a canary rollout (Editor+): an Approved version, the environment and the plan. The
 * API's answers about the plan are shown next to the field they name. */
export function NewRolloutPage() {
  const me = useMe();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [versionId, setVersionId] = useState(params.get("version") ?? "");
  const [projectId, setProjectId] = useState("");
  const [environment, setEnvironment] = useState<Environment>("prod");
  const [form, setForm] = useState<PlanForm>(DEFAULT_PLAN);

  const start = useMutation({
    mutationFn: async () => {
      const { plan, errors } = toPlan(form);
      if (Object.keys(errors).length) {
        const problem: ApiProblem = {
          status: 422,
          message: "Some plan fields are not numbers.",
          fields: errors,
        };
        throw problem;
      }
      return unwrap(
        await api.POST("/api/v1/deployments", {
          body: {
            project_id: projectId,
            prompt_version_id: versionId,
            environment,
            // Fields left out take the API's defaults.
            plan: plan as components["schemas"]["CanaryPlan-Input"],
          },
        }),
      );
    },
    onSuccess: (started) => navigate(`/rollouts/${started.deployment.id}`),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    start.mutate();
  }
  const error = start.error;

  return (
    <>
      <p className="crumbs">
        <Link to="/rollouts">Rollouts</Link> / Start
      </p>
      <h1>Start a rollout</h1>
      {!atLeast(me.data?.role, "Editor") && me.data && (
        <p className="banner note">Your role ({me.data.role}) cannot start rollouts.</p>
      )}
      <form onSubmit={submit} className="card wide" noValidate>
        <VersionPicker
          idPrefix="rollout"
          value={versionId}
          statuses={["Approved"]}
          invalid={fieldInvalid(error, "prompt_version_id")}
          describedBy="rollout-version-error"
          onChange={(id, _v, project) => {
            setVersionId(id);
            setProjectId(project);
            setParams(id ? { version: id } : {}, { replace: true });
          }}
        />
        <FieldError error={error} field="prompt_version_id" id="rollout-version-error" />
        <label htmlFor="rollout-environment">Environment</label>
        <select
          id="rollout-environment"
          value={environment}
          onChange={(e) => setEnvironment(e.target.value as Environment)}
        >
          <option value="prod">prod (label production)</option>
          <option value="staging">staging</option>
          <option value="dev">dev</option>
        </select>
        <fieldset className="plan-fields">
          <legend>Plan</legend>
          {FIELDS.map(({ key, label, hint }) => {
            const field = PLAN_FIELDS[key];
            const id = `plan-${key}`;
            return (
              <div key={key}>
                <label htmlFor={id}>{label}</label>
                <input
                  id={id}
                  value={form[key]}
                  inputMode="decimal"
                  onChange={(e) => setForm({ ...form, [key]: e.target.value })}
                  aria-invalid={fieldInvalid(error, field)}
                  aria-describedby={`${id}-hint ${id}-error`}
                />
                <p id={`${id}-hint`} className="muted small hint">
                  {hint}
                </p>
                <FieldError error={error} field={field} id={`${id}-error`} />
              </div>
            );
          })}
        </fieldset>
        <ProblemBanner error={error} />
        <button type="submit" disabled={!versionId || start.isPending}>
          Start the rollout
        </button>
      </form>
    </>
  );
}
