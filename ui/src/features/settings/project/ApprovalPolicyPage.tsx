import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { Loading } from "../../../components/Loading";
import { ProblemBanner } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { FieldMessage, invalid } from "../fields";
import { numberOrNull } from "../format";

type Policy = components["schemas"]["ApprovalPolicyPublic"];
type Member = components["schemas"]["MemberPublic"];

/** Score metrics a policy's golden-set check can use (the API refuses others, naming the
 * field): suggestions for the metric input. */
const SCORE_METRICS = [
  "exact_match",
  "token_f1",
  "bleu",
  "rouge1",
  "rouge2",
  "rougeL",
  "embedding_similarity",
  "accuracy",
  "precision",
  "recall",
  "f1",
];

/** A project's approval policy (any role reads it, Admins change it): approvals needed,
 * reviewers, the golden-set check, the deadline and reminders. */
export function ApprovalPolicyPage({ projectId }: { projectId: string }) {
  const me = useMe();
  const canEdit = atLeast(me.data?.role, "Admin");
  const policy = useQuery({
    queryKey: ["approval_policy", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/approval_policy", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });

  return (
    <section aria-labelledby="approval-title">
      <h2 id="approval-title">Approval policy</h2>
      <p className="muted">
        A version submitted for approval first passes the golden-set check (a child evaluation),
        then waits for reviewers. Running approvals keep the policy they started with.
      </p>
      {!canEdit && <RoleNote needed="Admin" what="change the approval policy" id="approval-role" />}
      <ProblemBanner error={policy.error} />
      {policy.isPending ? (
        <Loading what="Loading the approval policy" />
      ) : policy.data ? (
        <PolicyForm projectId={projectId} policy={policy.data} canEdit={canEdit} />
      ) : null}
    </section>
  );
}

function PolicyForm({
  projectId,
  policy,
  canEdit,
}: {
  projectId: string;
  policy: Policy;
  canEdit: boolean;
}) {
  const queryClient = useQueryClient();
  const datasets = useQuery({
    queryKey: ["datasets", projectId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/datasets", { params: { query: { project_id: projectId } } })),
  });
  const members = useQuery({
    queryKey: ["members"],
    queryFn: async () => unwrap(await api.GET("/api/v1/members")),
  });
  const [required, setRequired] = useState(String(policy.required_approvals ?? 1));
  const [reviewers, setReviewers] = useState<string[]>(policy.reviewers ?? []);
  const [dataset, setDataset] = useState(policy.golden_dataset_id ?? "");
  const [metric, setMetric] = useState(policy.eval_metric ?? "");
  const [minScore, setMinScore] = useState(String(policy.min_eval_score ?? 0.7));
  const [maxExamples, setMaxExamples] = useState(
    policy.eval_max_examples == null ? "" : String(policy.eval_max_examples),
  );
  const [deadline, setDeadline] = useState(String(policy.deadline_hours ?? 72));
  const [reminder, setReminder] = useState(String(policy.reminder_hours ?? 24));
  const [webhook, setWebhook] = useState(policy.webhook_url ?? "");
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/projects/{project_id}/approval_policy", {
          params: { path: { project_id: projectId } },
          body: {
            required_approvals: numberOrNull(required) as number,
            reviewers,
            golden_dataset_id: dataset || null,
            eval_metric: metric,
            min_eval_score: numberOrNull(minScore) as number,
            eval_max_examples: numberOrNull(maxExamples) as number | null,
            deadline_hours: numberOrNull(deadline) as number,
            reminder_hours: numberOrNull(reminder) as number,
            webhook_url: webhook.trim() || null,
          },
        }),
      ),
    onSuccess: (data) => queryClient.setQueryData(["approval_policy", projectId], data),
  });
  const err = save.error;
  // Reviewers must be Editors or Admins; keep listed ones that are no longer eligible visible.
  const eligible: Member[] = (members.data?.data ?? []).filter((m) => m.role !== "Viewer");
  const choices = [
    ...eligible.map((m) => ({ email: m.email, role: m.role as string })),
    ...reviewers
      .filter((r) => !eligible.some((m) => m.email === r))
      .map((email) => ({ email, role: "not an Editor or Admin" })),
  ];

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }

  const number = (
    id: string,
    field: string,
    label: string,
    value: string,
    onChange: (v: string) => void,
    hint?: string,
  ) => (
    <div>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={invalid(err, field)}
        aria-describedby={`${hint ? `${id}-hint ` : ""}${id}-error`}
      />
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <FieldMessage error={err} field={field} id={`${id}-error`} />
    </div>
  );

  return (
    <form onSubmit={submit} className="card wide" aria-labelledby="approval-title" noValidate>
      <ProblemBanner error={err} />
      <fieldset disabled={!canEdit} className="plain">
        <fieldset>
          <legend>Reviewers</legend>
          <div className="limit-grid">
            {number(
              "ap-required",
              "required_approvals",
              "Approvals required",
              required,
              setRequired,
            )}
          </div>
          <p className="group-label" id="ap-reviewers-label">
            Who may review
          </p>
          <p className="hint" id="ap-reviewers-hint">
            None ticked: any Editor or Admin may review. The author never approves their own
            version.
          </p>
          <div
            role="group"
            aria-labelledby="ap-reviewers-label"
            aria-describedby="ap-reviewers-hint ap-reviewers-error"
          >
            {choices.map((r) => (
              <label key={r.email} className="inline-check">
                <input
                  type="checkbox"
                  checked={reviewers.includes(r.email)}
                  onChange={(e) =>
                    setReviewers(
                      e.target.checked
                        ? [...reviewers, r.email]
                        : reviewers.filter((x) => x !== r.email),
                    )
                  }
                />
                {r.email} <span className="muted">({r.role})</span>
              </label>
            ))}
          </div>
          <FieldMessage error={err} field="reviewers" id="ap-reviewers-error" />
        </fieldset>
        <fieldset>
          <legend>Golden-set check</legend>
          <label htmlFor="ap-dataset">Golden dataset</label>
          <select
            id="ap-dataset"
            value={dataset}
            onChange={(e) => setDataset(e.target.value)}
            aria-invalid={invalid(err, "golden_dataset_id")}
            aria-describedby="ap-dataset-error"
          >
            <option value="">No evaluation check</option>
            {datasets.data?.data.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.example_count} examples)
              </option>
            ))}
          </select>
          <FieldMessage error={err} field="golden_dataset_id" id="ap-dataset-error" />
          <div className="limit-grid">
            <div>
              <label htmlFor="ap-metric">Metric</label>
              <input
                id="ap-metric"
                list="ap-metrics"
                value={metric}
                onChange={(e) => setMetric(e.target.value)}
                aria-invalid={invalid(err, "eval_metric")}
                aria-describedby="ap-metric-error"
              />
              <datalist id="ap-metrics">
                {SCORE_METRICS.map((m) => (
                  <option key={m} value={m} />
                ))}
              </datalist>
              <FieldMessage error={err} field="eval_metric" id="ap-metric-error" />
            </div>
            {number(
              "ap-min-score",
              "min_eval_score",
              "Minimum score (0 to 1)",
              minScore,
              setMinScore,
            )}
            {number(
              "ap-max-examples",
              "eval_max_examples",
              "Examples to evaluate",
              maxExamples,
              setMaxExamples,
              "Blank: the whole dataset.",
            )}
          </div>
        </fieldset>
        <fieldset>
          <legend>Timing and reminders</legend>
          <div className="limit-grid">
            {number(
              "ap-deadline",
              "deadline_hours",
              "Deadline (hours)",
              deadline,
              setDeadline,
              "Then the approval expires and the version returns to Draft.",
            )}
            {number(
              "ap-reminder",
              "reminder_hours",
              "Reminder every (hours)",
              reminder,
              setReminder,
            )}
          </div>
          <label htmlFor="ap-webhook">Reminder webhook URL (optional)</label>
          <input
            id="ap-webhook"
            type="url"
            value={webhook}
            onChange={(e) => setWebhook(e.target.value)}
            aria-invalid={invalid(err, "webhook_url")}
            aria-describedby="ap-webhook-error"
          />
          <FieldMessage error={err} field="webhook_url" id="ap-webhook-error" />
        </fieldset>
      </fieldset>
      {canEdit && (
        <button type="submit" disabled={save.isPending}>
          Save approval policy
        </button>
      )}
      {save.isSuccess && (
        <p role="status" className="ok">
          Approval policy saved.
        </p>
      )}
    </form>
  );
}
