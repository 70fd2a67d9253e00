import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { FieldMessage, invalid } from "./FieldMessage";
import { vname, type Label, type Version } from "./types";

function useLabelHistory(promptId: string, name: string, enabled = true) {
  return useQuery({
    queryKey: ["label-history", promptId, name],
    enabled: enabled && name !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/labels/{name}/history", {
          params: { path: { prompt_id: promptId, name } },
        }),
      ),
  });
}

/** The versions a label pointed at, newest first. */
function LabelHistory({
  promptId,
  name,
  id,
  versions,
}: {
  promptId: string;
  name: string;
  id: string;
  versions: Version[];
}) {
  const history = useLabelHistory(promptId, name);
  const numberOf = (versionId: string) => {
    const v = versions.find((x) => x.id === versionId);
    return v ? vname(v.version) : versionId;
  };
  if (history.isPending) return <Loading what={`Loading the history of ${name}`} />;
  if (history.error) return <ProblemBanner error={history.error} />;
  return (
    <table id={id} className="history">
      <caption>History of {name}</caption>
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Since</th>
          <th scope="col">Replaced</th>
        </tr>
      </thead>
      <tbody>
        {history.data.data.map((h) => (
          <tr key={`${h.prompt_version_id}-${h.moved_at}`}>
            <td>
              v{h.version}
              {h.current && <span className="tag">current</span>}
            </td>
            <td>{new Date(h.moved_at).toLocaleString()}</td>
            <td>{h.previous_version_id ? numberOf(h.previous_version_id) : "(first)"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function LabelRow({
  promptId,
  label,
  versions,
}: {
  promptId: string;
  label: Label;
  versions: Version[];
}) {
  const [open, setOpen] = useState(false);
  const historyId = useId();
  const target = versions.find((v) => v.id === label.prompt_version_id);
  return (
    <>
      <tr>
        <th scope="row">
          <code>{label.name}</code>
        </th>
        <td>{target ? vname(target.version) : label.prompt_version_id}</td>
        <td>{label.protected ? <span className="tag protected">protected</span> : "no"}</td>
        <td>{new Date(label.updated_at).toLocaleString()}</td>
        <td>
          <button
            type="button"
            className="secondary small"
            aria-expanded={open}
            aria-controls={historyId}
            onClick={() => setOpen(!open)}
          >
            {open ? "Hide" : "Show"} history<span className="visually-hidden"> of {label.name}</span>
          </button>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={5}>
            <LabelHistory
              promptId={promptId}
              name={label.name}
              id={historyId}
              versions={versions}
            />
          </td>
        </tr>
      )}
    </>
  );
}

/** A version picker (newest first, "v3 (Approved)", plus an optional note per version), with
 * the API's complaint about `prompt_version_id` next to it. */
function VersionField({
  id,
  versions,
  value,
  onChange,
  error,
  note = () => "",
}: {
  id: string;
  versions: Version[];
  value: string;
  onChange: (versionId: string) => void;
  error: unknown;
  note?: (v: Version) => string;
}) {
  return (
    <div>
      <label htmlFor={id}>Version</label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={invalid(error, "prompt_version_id")}
        aria-describedby={`${id}-error`}
        required
      >
        <option value="">Choose a version</option>
        {[...versions]
          .sort((a, b) => b.version - a.version)
          .map((v) => (
            <option key={v.id} value={v.id}>
              {vname(v.version)} ({[v.status, note(v)].filter(Boolean).join(", ")})
            </option>
          ))}
      </select>
      <FieldMessage error={error} field="prompt_version_id" id={`${id}-error`} />
    </div>
  );
}

/** Point an unprotected label at a version (Editor+). A protected one is refused by the API
 * (409): its message appears next to the label's name. */
function MoveLabelForm({
  promptId,
  labels,
  versions,
}: {
  promptId: string;
  labels: Label[];
  versions: Version[];
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [versionId, setVersionId] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const move = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/prompts/{prompt_id}/labels/{name}", {
          params: { path: { prompt_id: promptId, name: name.trim() } },
          body: { prompt_version_id: versionId },
        }),
      ),
    onSuccess: async (label) => {
      const v = versions.find((x) => x.id === label.prompt_version_id);
      setDone(`Label ${label.name} now points at ${v ? vname(v.version) : "the version"}.`);
      await queryClient.invalidateQueries({ queryKey: ["labels", promptId] });
      await queryClient.invalidateQueries({ queryKey: ["label-history", promptId, label.name] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    setDone(null);
    move.mutate();
  }
  const suggestions = labels.filter((l) => !l.protected).map((l) => l.name);
  return (
    <form onSubmit={submit} className="card" aria-labelledby="move-label">
      <h3 id="move-label">Move a label</h3>
      <p className="muted">
        Point a label at a version (a new name creates the label). Protected labels move only
        through a deployment or an emergency rollback.
      </p>
      <div className="row">
        <div>
          <label htmlFor="move-label-name">Label</label>
          <input
            id="move-label-name"
            list="move-label-names"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={invalid(move.error, "name", true)}
            aria-describedby="move-label-name-error"
            required
          />
          <datalist id="move-label-names">
            {suggestions.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
          <FieldMessage error={move.error} field="name" id="move-label-name-error" orWhole />
        </div>
        <VersionField
          id="move-label-version"
          versions={versions}
          value={versionId}
          onChange={setVersionId}
          error={move.error}
        />
      </div>
      <button type="submit" disabled={move.isPending}>
        Move label
      </button>
      <p role="status" className="ok">
        {done}
      </p>
    </form>
  );
}

/** An Admin's emergency rollback of a protected label to a version it served before, with a
 * required reason. The API's refusals (409 never served / not Approved / current, 409 an
 * active deployment, 403, 422 reason) appear next to the field they concern. */
function RollbackForm({
  promptId,
  labels,
  versions,
}: {
  promptId: string;
  labels: Label[];
  versions: Version[];
}) {
  const queryClient = useQueryClient();
  const protectedLabels = labels.filter((l) => l.protected);
  const [name, setName] = useState(protectedLabels[0]?.name ?? "");
  const [versionId, setVersionId] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const history = useLabelHistory(promptId, name);
  const served = new Set(history.data?.data.map((h) => h.prompt_version_id) ?? []);
  const rollback = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/prompts/{prompt_id}/labels/{name}/rollback", {
          params: { path: { prompt_id: promptId, name } },
          body: { prompt_version_id: versionId, reason },
        }),
      ),
    onSuccess: async (out) => {
      setDone(`Label ${out.name} rolled back to v${out.version}.`);
      setReason("");
      await queryClient.invalidateQueries({ queryKey: ["labels", promptId] });
      await queryClient.invalidateQueries({ queryKey: ["label-history", promptId, out.name] });
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    setDone(null);
    rollback.mutate();
  }
  if (protectedLabels.length === 0) {
    return (
      <section className="card" aria-labelledby="rollback-label">
        <h3 id="rollback-label">Emergency rollback</h3>
        <p className="muted">This prompt has no protected label to roll back.</p>
      </section>
    );
  }
  return (
    <form onSubmit={submit} className="card" aria-labelledby="rollback-label">
      <h3 id="rollback-label">Emergency rollback (Admin)</h3>
      <p className="muted">
        Points a protected label back at an approved version it served before. The reason is
        recorded in the audit log.
      </p>
      <div className="row">
        <div>
          <label htmlFor="rollback-name">Protected label</label>
          <select
            id="rollback-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={invalid(rollback.error, "name", true)}
            aria-describedby="rollback-name-error"
          >
            {protectedLabels.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name}
              </option>
            ))}
          </select>
          <FieldMessage error={rollback.error} field="name" id="rollback-name-error" orWhole />
        </div>
        <VersionField
          id="rollback-version"
          versions={versions}
          value={versionId}
          onChange={setVersionId}
          error={rollback.error}
          note={(v) => (served.has(v.id) ? `served under ${name}` : "")}
        />
      </div>
      <label htmlFor="rollback-reason">Reason</label>
      <textarea
        id="rollback-reason"
        rows={2}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        aria-invalid={invalid(rollback.error, "reason")}
        aria-describedby="rollback-reason-error"
        required
      />
      <FieldMessage error={rollback.error} field="reason" id="rollback-reason-error" />
      <button type="submit" disabled={rollback.isPending}>
        Roll back
      </button>
      <p role="status" className="ok">
        {done}
      </p>
    </form>
  );
}

/** The prompt's labels (what each points at, whether protected, its history) and, by role,
 * the forms that move them. */
export function LabelsSection({
  promptId,
  labels,
  versions,
  canEdit,
  isAdmin,
}: {
  promptId: string;
  labels: Label[];
  versions: Version[];
  canEdit: boolean;
  isAdmin: boolean;
}) {
  return (
    <section aria-labelledby="labels-heading">
      <h2 id="labels-heading">Labels</h2>
      {labels.length === 0 ? (
        <p className="muted">No labels yet.</p>
      ) : (
        <table aria-labelledby="labels-heading">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Points at</th>
              <th scope="col">Protected</th>
              <th scope="col">Moved</th>
              <th scope="col">
                <span className="visually-hidden">History</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {labels.map((l) => (
              <LabelRow key={l.name} promptId={promptId} label={l} versions={versions} />
            ))}
          </tbody>
        </table>
      )}
      <div className="forms">
        {canEdit && versions.length > 0 && (
          <MoveLabelForm promptId={promptId} labels={labels} versions={versions} />
        )}
        {isAdmin && versions.length > 0 && (
          <RollbackForm
            key={labels.filter((l) => l.protected).map((l) => l.name).join()}
            promptId={promptId}
            labels={labels}
            versions={versions}
          />
        )}
      </div>
    </section>
  );
}
