import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { Loading } from "../../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { formatTime, formatTokens, formatUsd, numberOrNull } from "../format";
import { usageBar } from "./usage";

type Budget = components["schemas"]["BudgetPublic"];
type Usage = components["schemas"]["PeriodUsage"];
type LimitField = "daily_usd" | "monthly_usd" | "daily_tokens" | "monthly_tokens";

const LIMITS: { field: LimitField; label: string }[] = [
  { field: "daily_usd", label: "Daily USD" },
  { field: "monthly_usd", label: "Monthly USD" },
  { field: "daily_tokens", label: "Daily tokens" },
  { field: "monthly_tokens", label: "Monthly tokens" },
];

/** A project's budgets: the current UTC day's and month's spent, reserved and remaining USD
 * and tokens as bars, and (Admin) the four limits; blank means unlimited. */
export function BudgetsPage({ projectId }: { projectId: string }) {
  const me = useMe();
  const budget = useQuery({
    queryKey: ["budgets", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/budgets", {
          params: { path: { project_id: projectId } },
        }),
      ),
    refetchInterval: 10_000,
  });

  return (
    <section aria-labelledby="budgets-title">
      <h2 id="budgets-title">Budgets and usage</h2>
      <p className="muted">
        Before each provider call the request's maximum cost and tokens are reserved; a request that
        does not fit every limited period is refused with 429. Periods are UTC.
      </p>
      <ProblemBanner error={budget.error} />
      {budget.isPending ? (
        <Loading what="Loading budgets" />
      ) : budget.data ? (
        <>
          <div className="usage-grid">
            {budget.data.usage.map((u) => (
              <PeriodCard key={u.period} usage={u} />
            ))}
          </div>
          {budget.data.updated_at && (
            <p className="muted small">
              Limits set {formatTime(budget.data.updated_at)} by {budget.data.updated_by}.
            </p>
          )}
          {atLeast(me.data?.role, "Admin") ? (
            <LimitsForm projectId={projectId} budget={budget.data} />
          ) : (
            <RoleNote needed="Admin" what="change budgets" />
          )}
        </>
      ) : null}
    </section>
  );
}

function PeriodCard({ usage }: { usage: Usage }) {
  const title =
    usage.period === "day" ? "Today" : usage.period === "month" ? "This month" : usage.period;
  return (
    <section className="card usage-card" aria-labelledby={`usage-${usage.period}`}>
      <h3 id={`usage-${usage.period}`}>
        {title} <span className="muted small">({periodText(usage)}, UTC)</span>
      </h3>
      <UsageRow
        label="Cost"
        spent={usage.spent_usd}
        reserved={usage.reserved_usd}
        limit={usage.limit_usd}
        remaining={usage.remaining_usd}
        format={formatUsd}
      />
      <UsageRow
        label="Tokens"
        spent={usage.spent_tokens}
        reserved={usage.reserved_tokens}
        limit={usage.limit_tokens}
        remaining={usage.remaining_tokens}
        format={formatTokens}
      />
    </section>
  );
}

/** The period a usage row covers: the day, the month, or start to (exclusive) end. */
function periodText(usage: Usage): string {
  if (usage.period === "day") return usage.period_start;
  if (usage.period === "month") return usage.period_start.slice(0, 7);
  return `${usage.period_start} to ${usage.period_end}`;
}

function UsageRow({
  label,
  spent,
  reserved,
  limit,
  remaining,
  format,
}: {
  label: string;
  spent: number;
  reserved: number;
  limit: number | null;
  remaining: number | null;
  format: (value: number | null) => string;
}) {
  const bar = usageBar(spent, reserved, limit);
  return (
    <div className="usage-row">
      <p className="usage-label">
        <strong>{label}</strong>{" "}
        {bar.limited ? (
          <>
            limit {format(limit)}
            {bar.full && <span className="error"> · used up</span>}
          </>
        ) : (
          <span className="muted">no limit</span>
        )}
      </p>
      {bar.limited && (
        <div className="usage-bar" aria-hidden="true">
          <span className="usage-spent" style={{ width: `${bar.spentPct}%` }} />
          <span className="usage-reserved" style={{ width: `${bar.reservedPct}%` }} />
        </div>
      )}
      <dl className="usage-figures">
        <div>
          <dt>Spent</dt>
          <dd>{format(spent)}</dd>
        </div>
        <div>
          <dt>Reserved</dt>
          <dd>{format(reserved)}</dd>
        </div>
        <div>
          <dt>Remaining</dt>
          <dd>{bar.limited ? format(remaining) : "unlimited"}</dd>
        </div>
      </dl>
    </div>
  );
}

function LimitsForm({ projectId, budget }: { projectId: string; budget: Budget }) {
  const queryClient = useQueryClient();
  const current = (b: Budget) =>
    Object.fromEntries(
      LIMITS.map(({ field }) => [field, b[field] == null ? "" : String(b[field])]),
    );
  const [values, setValues] = useState<Record<string, string>>(() => current(budget));
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/projects/{project_id}/budgets", {
          params: { path: { project_id: projectId } },
          body: Object.fromEntries(
            LIMITS.map(({ field }) => [field, numberOrNull(values[field] ?? "")]),
          ) as components["schemas"]["BudgetUpdate"],
        }),
      ),
    onSuccess: (data) => queryClient.setQueryData(["budgets", projectId], data),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="limits-title" noValidate>
      <h3 id="limits-title">Limits</h3>
      <p className="hint">Leave a field blank for no limit. USD in US dollars.</p>
      <ProblemBanner error={save.error} />
      <div className="limit-grid">
        {LIMITS.map(({ field, label }) => (
          <div key={field}>
            <label htmlFor={`limit-${field}`}>{label}</label>
            <input
              id={`limit-${field}`}
              type="number"
              min={0}
              step={field.endsWith("usd") ? "any" : 1}
              inputMode={field.endsWith("usd") ? "decimal" : "numeric"}
              value={values[field] ?? ""}
              onChange={(e) => setValues({ ...values, [field]: e.target.value })}
              aria-invalid={fieldInvalid(save.error, field)}
              aria-describedby={`limit-${field}-error`}
            />
            <FieldError error={save.error} field={field} id={`limit-${field}-error`} />
          </div>
        ))}
      </div>
      <button type="submit" disabled={save.isPending}>
        Save limits
      </button>
      {save.isSuccess && !save.isPending && (
        <p role="status" className="ok">
          Limits saved.
        </p>
      )}
    </form>
  );
}
