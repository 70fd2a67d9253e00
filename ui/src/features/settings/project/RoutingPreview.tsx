import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import { ProblemBanner } from "../../../components/Problem";
import { FieldMessage, invalid } from "../fields";
import { formatMs, formatPercent, formatUsd, numberOrNull } from "../format";

/** The decision a policy would take now for a sample request (nothing is sent to a provider
 * or recorded): the order it would try, why, and each candidate's live figures. Any role. */
export function RoutingPreview({ projectId, names }: { projectId: string; names: string[] }) {
  const [name, setName] = useState(names[0] ?? "");
  const [message, setMessage] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const chosenName = names.includes(name) ? name : (names[0] ?? "");
  const preview = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/projects/{project_id}/routing_policies/{name}/preview", {
          params: { path: { project_id: projectId, name: chosenName } },
          body: {
            messages: message.trim() ? [{ role: "user", content: message }] : [],
            max_tokens: numberOrNull(maxTokens) as number | null,
          },
        }),
      ),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    preview.mutate();
  }

  const decision = preview.data;
  return (
    <section className="card wide" aria-labelledby="preview-title">
      <h3 id="preview-title">Preview a decision</h3>
      <form onSubmit={submit} noValidate>
        {names.length > 1 && (
          <>
            <label htmlFor="preview-policy">Policy</label>
            <select
              id="preview-policy"
              value={chosenName}
              onChange={(e) => setName(e.target.value)}
            >
              {names.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </>
        )}
        <label htmlFor="preview-message">Sample user message (optional)</label>
        <textarea
          id="preview-message"
          rows={2}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
          aria-describedby="preview-message-hint"
        />
        <p className="hint" id="preview-message-hint">
          Its length sets the estimated prompt tokens, and so the estimated cost.
        </p>
        <label htmlFor="preview-max-tokens">Max tokens (blank: 1024)</label>
        <input
          id="preview-max-tokens"
          type="number"
          min={1}
          value={maxTokens}
          onChange={(e) => setMaxTokens(e.target.value)}
          aria-invalid={invalid(preview.error, "max_tokens")}
          aria-describedby="preview-max-tokens-error"
        />
        <FieldMessage error={preview.error} field="max_tokens" id="preview-max-tokens-error" />
        <button type="submit" disabled={preview.isPending || !chosenName}>
          Preview decision
        </button>
      </form>
      <ProblemBanner error={preview.error} />
      {decision && (
        <div role="status" className="decision">
          <p>
            <strong>{decision.policy}</strong> would try{" "}
            {decision.ordered.map((m, i) => (
              <span key={m}>
                {i > 0 && " → "}
                <code>{m}</code>
              </span>
            ))}
            . <span className="muted">{decision.reason}</span>
          </p>
          <table className="data">
            <caption className="visually-hidden">Candidates' live figures</caption>
            <thead>
              <tr>
                <th scope="col">Candidate</th>
                <th scope="col">Eligible</th>
                <th scope="col">p95</th>
                <th scope="col">Error rate</th>
                <th scope="col">Quality</th>
                <th scope="col">Est. cost</th>
                <th scope="col">Breaker</th>
              </tr>
            </thead>
            <tbody>
              {decision.candidates.map((c) => (
                <tr key={c.model}>
                  <th scope="row">
                    <code>{c.model}</code>
                  </th>
                  <td>
                    {c.eligible ? (
                      "yes"
                    ) : (
                      <span className="error">no: {c.excluded_because.join("; ")}</span>
                    )}
                  </td>
                  <td>{formatMs(c.p95_latency_ms)}</td>
                  <td>
                    {formatPercent(c.error_rate)}{" "}
                    <span className="muted small">({c.calls} calls)</span>
                  </td>
                  <td>
                    {c.quality === null ? "unscored" : c.quality.toFixed(2)}
                    <span className="muted small"> ({c.quality_samples} scores)</span>
                  </td>
                  <td>{formatUsd(c.est_cost_usd)}</td>
                  <td>{c.breaker_state}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
