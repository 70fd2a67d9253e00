import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import { atLeast, useMe } from "../../../auth/me";
import { ConfirmButton } from "../../../components/ConfirmButton";
import { Loading } from "../../../components/Loading";
import { ProblemBanner } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { FieldMessage, invalid } from "../fields";
import { formatTime } from "../format";
import { RoutingPreview } from "./RoutingPreview";
import {
  STRATEGIES,
  bodyFromForm,
  constraintsText,
  emptyForm,
  formFromPolicy,
  move,
  type PolicyForm,
  type Strategy,
} from "./routingForm";

function usePolicies(projectId: string) {
  return useQuery({
    queryKey: ["routing_policies", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/routing_policies", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
}

function useModels() {
  return useQuery({
    queryKey: ["models", "providers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/models/providers")),
  });
}

/** A project's routing policies (a request names one as model ``policy:<name>``) and a
 * preview of the decision a policy would take now. */
export function RoutingPoliciesPage({ projectId }: { projectId: string }) {
  const me = useMe();
  const canEdit = atLeast(me.data?.role, "Editor");
  const policies = usePolicies(projectId);
  const base = `/projects/${projectId}/settings/routing`;

  return (
    <section aria-labelledby="routing-title">
      <h2 id="routing-title">Routing policies</h2>
      <p className="muted">
        A request whose model is <code>policy:&lt;name&gt;</code> is routed by that policy: the
        eligible candidates ranked by its strategy on live figures, then its fallbacks in order.
      </p>
      {canEdit ? (
        <Link className="button-link" to={`${base}/new`}>
          New routing policy
        </Link>
      ) : (
        <RoleNote needed="Editor" what="create, change or delete routing policies" />
      )}
      <ProblemBanner error={policies.error} />
      {policies.isPending ? (
        <Loading what="Loading routing policies" />
      ) : policies.data && policies.data.count === 0 ? (
        <p className="muted">No routing policies in this project yet.</p>
      ) : policies.data ? (
        <>
          <table className="data">
            <caption className="visually-hidden">Routing policies</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Strategy</th>
                <th scope="col">Candidates</th>
                <th scope="col">Fallbacks</th>
                <th scope="col">Constraints</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {policies.data.data.map((p) => (
                <tr key={p.id}>
                  <th scope="row">
                    <Link to={`${base}/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                    {p.description && <div className="muted small">{p.description}</div>}
                  </th>
                  <td>{STRATEGIES.find((s) => s.value === p.strategy)?.label ?? p.strategy}</td>
                  <td>{p.candidates.join(", ")}</td>
                  <td>{p.fallbacks.length ? p.fallbacks.join(" → ") : "none"}</td>
                  <td>{constraintsText(p.constraints)}</td>
                  <td>
                    {formatTime(p.updated_at)}
                    <span className="muted small"> by {p.updated_by}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <RoutingPreview projectId={projectId} names={policies.data.data.map((p) => p.name)} />
        </>
      ) : null}
    </section>
  );
}

/** Create (``routing/new``) or edit (``routing/:name``) a policy; read-only below Editor. */
export function RoutingPolicyEditor({ projectId }: { projectId: string }) {
  const { name: existing } = useParams();
  const policies = usePolicies(projectId);
  if (!existing) return <PolicyFormCard projectId={projectId} initial={emptyForm()} isNew />;
  if (policies.isPending) return <Loading what="Loading the routing policy" />;
  const policy = policies.data?.data.find((p) => p.name === existing);
  if (!policy) {
    return (
      <>
        <ProblemBanner
          error={policies.error ?? new Error(`No routing policy named ${existing}.`)}
        />
        <Link to={`/projects/${projectId}/settings/routing`}>Back to routing policies</Link>
      </>
    );
  }
  return (
    <PolicyFormCard
      key={policy.id}
      projectId={projectId}
      initial={formFromPolicy(policy)}
      isNew={false}
    />
  );
}

function PolicyFormCard({
  projectId,
  initial,
  isNew,
}: {
  projectId: string;
  initial: PolicyForm;
  isNew: boolean;
}) {
  const me = useMe();
  const canEdit = atLeast(me.data?.role, "Editor");
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const models = useModels();
  const [form, setForm] = useState<PolicyForm>(initial);
  const [addFallback, setAddFallback] = useState("");
  const back = `/projects/${projectId}/settings/routing`;
  const path = { path: { project_id: projectId, name: form.name.trim() } };
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/projects/{project_id}/routing_policies/{name}", {
          params: path,
          body: bodyFromForm(form),
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["routing_policies", projectId] });
      navigate(back);
    },
  });
  const remove = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.DELETE("/api/v1/projects/{project_id}/routing_policies/{name}", {
          params: path,
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["routing_policies", projectId] });
      navigate(back);
    },
  });
  const catalog = models.data?.data.map((m) => m.model_name) ?? [];
  // Models a stored policy names that the catalog no longer has stay visible (and selected).
  const candidateChoices = [...catalog, ...form.candidates.filter((c) => !catalog.includes(c))];
  const fallbackChoices = catalog.filter((m) => !form.fallbacks.includes(m));
  const err = save.error;
  const set = (patch: Partial<PolicyForm>) => setForm({ ...form, ...patch });

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }

  return (
    <section aria-labelledby="policy-title">
      <p className="breadcrumbs">
        <Link to={back}>Routing policies</Link> / {isNew ? "new" : initial.name}
      </p>
      <h2 id="policy-title">{isNew ? "New routing policy" : `Routing policy ${initial.name}`}</h2>
      {!canEdit && <RoleNote needed="Editor" what="change routing policies" />}
      <form onSubmit={submit} className="card wide" aria-labelledby="policy-title" noValidate>
        <ProblemBanner error={err ?? remove.error} />
        <fieldset disabled={!canEdit} className="plain">
          {isNew ? (
            <>
              <label htmlFor="policy-name">Name</label>
              <input
                id="policy-name"
                value={form.name}
                onChange={(e) => set({ name: e.target.value })}
                aria-invalid={invalid(err, "name")}
                aria-describedby="policy-name-hint policy-name-error"
              />
              <p className="hint" id="policy-name-hint">
                Letters, digits, <code>.</code>, <code>_</code> and <code>-</code>; requests use{" "}
                <code>policy:{form.name.trim() || "<name>"}</code>.
              </p>
              <FieldMessage error={err} field="name" id="policy-name-error" />
            </>
          ) : (
            <p>
              Requests use <code>policy:{initial.name}</code>.
            </p>
          )}

          <fieldset>
            <legend>Strategy</legend>
            {STRATEGIES.map((s) => (
              <label key={s.value} className="inline-check">
                <input
                  type="radio"
                  name="strategy"
                  value={s.value}
                  checked={form.strategy === s.value}
                  onChange={() => set({ strategy: s.value as Strategy })}
                />
                {s.label} <span className="muted">({s.help})</span>
              </label>
            ))}
            <FieldMessage error={err} field="strategy" id="policy-strategy-error" />
          </fieldset>

          <fieldset aria-describedby="policy-candidates-error">
            <legend>Candidates</legend>
            {candidateChoices.length === 0 && <p className="muted">No models are configured.</p>}
            {candidateChoices.map((m) => (
              <label key={m} className="inline-check">
                <input
                  type="checkbox"
                  checked={form.candidates.includes(m)}
                  onChange={(e) =>
                    set({
                      candidates: e.target.checked
                        ? [...form.candidates, m]
                        : form.candidates.filter((c) => c !== m),
                    })
                  }
                />
                <code>{m}</code>
                {!catalog.includes(m) && <span className="error"> (not in the model list)</span>}
              </label>
            ))}
            <FieldMessage error={err} field="candidates" id="policy-candidates-error" />
          </fieldset>

          <fieldset aria-describedby="policy-fallbacks-hint policy-fallbacks-error">
            <legend>Fallbacks, in order</legend>
            <p className="hint" id="policy-fallbacks-hint">
              Tried after the ranked candidates; not held to the constraints.
            </p>
            {form.fallbacks.length > 0 && (
              <ol className="ordered-list">
                {form.fallbacks.map((m, i) => (
                  <li key={m}>
                    <code>{m}</code>
                    <button
                      type="button"
                      className="secondary small-button"
                      aria-label={`Move ${m} up`}
                      disabled={i === 0}
                      onClick={() => set({ fallbacks: move(form.fallbacks, i, -1) })}
                    >
                      ↑
                    </button>
                    <button
                      type="button"
                      className="secondary small-button"
                      aria-label={`Move ${m} down`}
                      disabled={i === form.fallbacks.length - 1}
                      onClick={() => set({ fallbacks: move(form.fallbacks, i, 1) })}
                    >
                      ↓
                    </button>
                    <button
                      type="button"
                      className="secondary small-button"
                      aria-label={`Remove fallback ${m}`}
                      onClick={() => set({ fallbacks: form.fallbacks.filter((f) => f !== m) })}
                    >
                      Remove
                    </button>
                  </li>
                ))}
              </ol>
            )}
            <div className="add-row">
              <label htmlFor="policy-add-fallback">Add a fallback</label>
              <select
                id="policy-add-fallback"
                value={addFallback}
                onChange={(e) => setAddFallback(e.target.value)}
              >
                <option value="">Choose a model</option>
                {fallbackChoices.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
              <button
                type="button"
                className="secondary"
                disabled={!addFallback}
                onClick={() => {
                  set({ fallbacks: [...form.fallbacks, addFallback] });
                  setAddFallback("");
                }}
              >
                Add
              </button>
            </div>
            <FieldMessage error={err} field="fallbacks" id="policy-fallbacks-error" />
          </fieldset>

          <fieldset>
            <legend>Constraints (blank: no limit)</legend>
            <div className="limit-grid">
              <div>
                <label htmlFor="policy-max-p95">Max p95 latency (ms)</label>
                <input
                  id="policy-max-p95"
                  type="number"
                  min={1}
                  value={form.maxP95}
                  onChange={(e) => set({ maxP95: e.target.value })}
                  aria-invalid={invalid(err, "constraints.max_p95_latency_ms")}
                  aria-describedby="policy-max-p95-error"
                />
                <FieldMessage
                  error={err}
                  field="constraints.max_p95_latency_ms"
                  id="policy-max-p95-error"
                />
              </div>
              <div>
                <label htmlFor="policy-min-quality">Min quality (0 to 1)</label>
                <input
                  id="policy-min-quality"
                  type="number"
                  min={0}
                  max={1}
                  step={0.01}
                  value={form.minQuality}
                  onChange={(e) => set({ minQuality: e.target.value })}
                  aria-invalid={invalid(err, "constraints.min_quality")}
                  aria-describedby="policy-min-quality-error"
                />
                <FieldMessage
                  error={err}
                  field="constraints.min_quality"
                  id="policy-min-quality-error"
                />
              </div>
              <div>
                <label htmlFor="policy-max-cost">Max cost per request (USD)</label>
                <input
                  id="policy-max-cost"
                  type="number"
                  min={0}
                  step="any"
                  value={form.maxCost}
                  onChange={(e) => set({ maxCost: e.target.value })}
                  aria-invalid={invalid(err, "constraints.max_cost_usd")}
                  aria-describedby="policy-max-cost-error"
                />
                <FieldMessage
                  error={err}
                  field="constraints.max_cost_usd"
                  id="policy-max-cost-error"
                />
              </div>
            </div>
          </fieldset>

          <label htmlFor="policy-description">Description</label>
          <textarea
            id="policy-description"
            rows={2}
            value={form.description}
            onChange={(e) => set({ description: e.target.value })}
            aria-invalid={invalid(err, "description")}
            aria-describedby="policy-description-error"
          />
          <FieldMessage error={err} field="description" id="policy-description-error" />
        </fieldset>
        {canEdit && (
          <div className="form-actions">
            <button type="submit" disabled={save.isPending}>
              {isNew ? "Create policy" : "Save policy"}
            </button>
            {!isNew && (
              <ConfirmButton
                label="Delete policy"
                confirmLabel={`Delete ${initial.name}`}
                busy={remove.isPending}
                onConfirm={() => remove.mutate()}
              />
            )}
          </div>
        )}
      </form>
      {!isNew && <RoutingPreview projectId={projectId} names={[initial.name]} />}
    </section>
  );
}
