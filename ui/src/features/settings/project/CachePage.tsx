import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { ConfirmButton } from "../../../components/ConfirmButton";
import { Loading } from "../../../components/Loading";
import { ProblemBanner } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import { FieldMessage, invalid } from "../fields";
import { numberOrNull } from "../format";

type Settings = components["schemas"]["CacheSettingsPublic"];
type Purge = components["schemas"]["CachePurge"];

/** A project's response caches: the exact and semantic cache toggles, TTLs and similarity
 * threshold (Editor to change), and purging cached answers. */
export function CachePage({ projectId }: { projectId: string }) {
  const me = useMe();
  const canEdit = atLeast(me.data?.role, "Editor");
  const settings = useQuery({
    queryKey: ["cache", projectId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/cache", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });

  return (
    <section aria-labelledby="cache-title">
      <h2 id="cache-title">Cache</h2>
      <p className="muted">
        The exact cache answers a request identical to an earlier one (model, messages, parameters,
        schema, tools); the semantic cache one whose variable values are similar enough (cosine
        similarity of all-MiniLM-L6-v2 embeddings). A hit costs nothing and is recorded as a run.
        Evaluations never use the caches.
      </p>
      {!canEdit && <RoleNote needed="Editor" what="change cache settings or purge the cache" />}
      <ProblemBanner error={settings.error} />
      {settings.isPending ? (
        <Loading what="Loading cache settings" />
      ) : settings.data ? (
        <>
          <CacheForm projectId={projectId} settings={settings.data} canEdit={canEdit} />
          {canEdit && <PurgeForm projectId={projectId} />}
        </>
      ) : null}
    </section>
  );
}

function CacheForm({
  projectId,
  settings,
  canEdit,
}: {
  projectId: string;
  settings: Settings;
  canEdit: boolean;
}) {
  const queryClient = useQueryClient();
  const [exactOn, setExactOn] = useState(settings.exact.enabled ?? false);
  const [exactTtl, setExactTtl] = useState(String(settings.exact.ttl_s ?? 3600));
  const [semOn, setSemOn] = useState(settings.semantic.enabled ?? false);
  const [semTtl, setSemTtl] = useState(String(settings.semantic.ttl_s ?? 3600));
  const [threshold, setThreshold] = useState(String(settings.semantic.threshold ?? 0.95));
  const save = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/projects/{project_id}/cache", {
          params: { path: { project_id: projectId } },
          body: {
            exact: { enabled: exactOn, ttl_s: numberOrNull(exactTtl) as number },
            semantic: {
              enabled: semOn,
              ttl_s: numberOrNull(semTtl) as number,
              threshold: numberOrNull(threshold) as number,
            },
          },
        }),
      ),
    onSuccess: (data) => queryClient.setQueryData(["cache", projectId], data),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }

  const err = save.error;
  return (
    <form onSubmit={submit} className="card" aria-labelledby="cache-settings" noValidate>
      <h3 id="cache-settings">Settings</h3>
      <ProblemBanner error={err} />
      <fieldset disabled={!canEdit}>
        <legend>Exact cache</legend>
        <label className="inline-check">
          <input type="checkbox" checked={exactOn} onChange={(e) => setExactOn(e.target.checked)} />
          Answer identical requests from the cache
        </label>
        <label htmlFor="exact-ttl">Time to live (seconds)</label>
        <input
          id="exact-ttl"
          type="number"
          min={1}
          max={2592000}
          value={exactTtl}
          onChange={(e) => setExactTtl(e.target.value)}
          aria-invalid={invalid(err, "exact.ttl_s")}
          aria-describedby="exact-ttl-error"
        />
        <FieldMessage error={err} field="exact.ttl_s" id="exact-ttl-error" />
      </fieldset>
      <fieldset disabled={!canEdit}>
        <legend>Semantic cache</legend>
        <label className="inline-check">
          <input type="checkbox" checked={semOn} onChange={(e) => setSemOn(e.target.checked)} />
          Answer similar requests from the cache
        </label>
        <label htmlFor="semantic-threshold">Similarity threshold (0 to 1)</label>
        <input
          id="semantic-threshold"
          type="number"
          min={0}
          max={1}
          step={0.01}
          value={threshold}
          onChange={(e) => setThreshold(e.target.value)}
          aria-invalid={invalid(err, "semantic.threshold")}
          aria-describedby="semantic-threshold-hint semantic-threshold-error"
        />
        <p className="hint" id="semantic-threshold-hint">
          A hit needs a cosine similarity at least this high; 0.95 is strict.
        </p>
        <FieldMessage error={err} field="semantic.threshold" id="semantic-threshold-error" />
        <label htmlFor="semantic-ttl">Time to live (seconds)</label>
        <input
          id="semantic-ttl"
          type="number"
          min={1}
          max={2592000}
          value={semTtl}
          onChange={(e) => setSemTtl(e.target.value)}
          aria-invalid={invalid(err, "semantic.ttl_s")}
          aria-describedby="semantic-ttl-error"
        />
        <FieldMessage error={err} field="semantic.ttl_s" id="semantic-ttl-error" />
      </fieldset>
      {canEdit && (
        <button type="submit" disabled={save.isPending}>
          Save cache settings
        </button>
      )}
      {save.isSuccess && (
        <p role="status" className="ok">
          Cache settings saved.
        </p>
      )}
    </form>
  );
}

function PurgeForm({ projectId }: { projectId: string }) {
  const [kind, setKind] = useState<Purge["kind"]>("all");
  const [model, setModel] = useState("");
  const [versionId, setVersionId] = useState("");
  const models = useQuery({
    queryKey: ["models", "providers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/models/providers")),
  });
  const purge = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/cache/purge", {
          body: {
            project_id: projectId,
            kind,
            model: model || null,
            prompt_version_id: versionId.trim() || null,
          },
        }),
      ),
  });

  return (
    <form
      onSubmit={(e) => e.preventDefault()}
      className="card"
      aria-labelledby="cache-purge"
      noValidate
    >
      <h3 id="cache-purge">Purge cached answers</h3>
      <ProblemBanner error={purge.error} />
      <label htmlFor="purge-kind">Cache</label>
      <select
        id="purge-kind"
        value={kind}
        onChange={(e) => setKind(e.target.value as Purge["kind"])}
      >
        <option value="all">Both caches</option>
        <option value="exact">Exact cache</option>
        <option value="semantic">Semantic cache</option>
      </select>
      <label htmlFor="purge-model">Model</label>
      <select id="purge-model" value={model} onChange={(e) => setModel(e.target.value)}>
        <option value="">Every model</option>
        {models.data?.data.map((m) => (
          <option key={m.model_name} value={m.model_name}>
            {m.model_name}
          </option>
        ))}
      </select>
      <label htmlFor="purge-version">Prompt version id (optional)</label>
      <input
        id="purge-version"
        value={versionId}
        onChange={(e) => setVersionId(e.target.value)}
        aria-invalid={invalid(purge.error, "prompt_version_id")}
        aria-describedby="purge-version-error"
      />
      <FieldMessage error={purge.error} field="prompt_version_id" id="purge-version-error" />
      <div className="form-actions">
        <ConfirmButton
          label="Purge"
          confirmLabel="Delete these cached answers"
          className="danger"
          busy={purge.isPending}
          onConfirm={() => purge.mutate()}
        />
      </div>
      {purge.data && (
        <p role="status" className="ok">
          Deleted {purge.data.exact} exact and {purge.data.semantic} semantic entries.
        </p>
      )}
    </form>
  );
}
