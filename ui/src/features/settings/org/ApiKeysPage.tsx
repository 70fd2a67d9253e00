import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import type { components } from "../../../api/schema";
import { atLeast, useMe } from "../../../auth/me";
import { ConfirmButton } from "../../../components/ConfirmButton";
import { Loading } from "../../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../../components/Problem";
import { formatTime, localInputToIso, numberOrNull } from "../format";
import { projectName, useProjects } from "../useProjects";
import { ROLES } from "./MembersPage";
import { SecretDialog } from "./SecretDialog";
import { ScrollRegion } from "../../../components/ScrollRegion";

type ApiKey = components["schemas"]["ApiKeyPublic"];
type Created = components["schemas"]["ApiKeyCreated"];
type Role = components["schemas"]["Role"];

/** Whether a key works now: revoked, expired or active. */
export function keyStatus(key: ApiKey, now: Date = new Date()): "revoked" | "expired" | "active" {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && new Date(key.expires_at) <= now) return "expired";
  return "active";
}

/** API keys: Admins see every key of the organization, others their own. Anyone may create a
 * key up to their own role (Admins for another member too); the secret is shown once, in a
 * dialog. Owners and Admins rotate and revoke. */
export function ApiKeysPage() {
  const me = useMe();
  const isAdmin = atLeast(me.data?.role, "Admin");
  const projects = useProjects();
  const queryClient = useQueryClient();
  const [secret, setSecret] = useState<Created | null>(null);
  const keys = useQuery({
    queryKey: ["api_keys"],
    queryFn: async () => unwrap(await api.GET("/api/v1/api_keys")),
  });
  const onIssued = async (created: Created) => {
    setSecret(created);
    await queryClient.invalidateQueries({ queryKey: ["api_keys"] });
  };

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">
        {isAdmin ? "Every key of the organization." : "Your keys."} A key is shown once, when it is
        created or rotated; afterwards only its prefix. Rotating revokes the old key at once.
      </p>
      <ProblemBanner error={keys.error} />
      {keys.isPending ? (
        <Loading what="Loading API keys" />
      ) : keys.data && keys.data.count === 0 ? (
        <p className="muted">No API keys yet.</p>
      ) : (
        <ScrollRegion label="API keys table">
          <table className="data keys-table">
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Role</th>
                <th scope="col">Project</th>
                <th scope="col">Owner</th>
                <th scope="col">Rate limit</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.data?.data.map((k) => (
                <KeyRow
                  key={k.id}
                  apiKey={k}
                  project={k.project_id ? projectName(projects.data, k.project_id) : "All"}
                  canManage={isAdmin || k.user_id === me.data?.user_id}
                  isCurrent={k.id === me.data?.api_key_id}
                  onRotated={onIssued}
                />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      <CreateKeyForm
        role={(me.data?.role as Role | undefined) ?? "Viewer"}
        isAdmin={isAdmin}
        scopedTo={me.data?.project_id ?? null}
        projects={projects.data?.data ?? []}
        onCreated={onIssued}
      />
      {secret && (
        <SecretDialog
          secret={secret.key}
          name={secret.name}
          warning={secret.warning ?? "It is shown once and cannot be retrieved again."}
          onClose={() => setSecret(null)}
        />
      )}
    </section>
  );
}

function KeyRow({
  apiKey,
  project,
  canManage,
  isCurrent,
  onRotated,
}: {
  apiKey: ApiKey;
  project: string;
  canManage: boolean;
  isCurrent: boolean;
  onRotated: (created: Created) => Promise<void>;
}) {
  const queryClient = useQueryClient();
  const path = { params: { path: { key_id: apiKey.id } } };
  const rotate = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/api_keys/{key_id}/rotate", path)),
    onSuccess: onRotated,
  });
  const revoke = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/api/v1/api_keys/{key_id}", path)),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["api_keys"] }),
  });
  const status = keyStatus(apiKey);
  const reason = !canManage
    ? "Only the key's owner or an Admin can change it"
    : isCurrent
      ? "This is the key you are signed in with"
      : undefined;

  return (
    <tr className={status === "active" ? undefined : "inactive"}>
      <th scope="row">{apiKey.name}</th>
      <td>
        <code>po_{apiKey.prefix}_…</code>
      </td>
      <td>{apiKey.role}</td>
      <td>{project}</td>
      <td>{apiKey.user_email}</td>
      <td>{apiKey.rate_limit_rpm ? `${apiKey.rate_limit_rpm}/min` : "none"}</td>
      <td>{formatTime(apiKey.created_at)}</td>
      <td>{formatTime(apiKey.last_used_at)}</td>
      <td>{apiKey.expires_at ? formatTime(apiKey.expires_at) : "never"}</td>
      <td>
        <span className={`status-badge key-${status}`}>{status}</span>
        {apiKey.revoked_at && <span className="muted small"> {formatTime(apiKey.revoked_at)}</span>}
      </td>
      <td>
        {status === "active" ? (
          <div className="row-actions">
            {reason && <span className="muted small">{reason}.</span>}
            <ConfirmButton
              label="Rotate"
              confirmLabel={`Rotate ${apiKey.name}`}
              className="secondary"
              disabled={reason !== undefined}
              busy={rotate.isPending}
              onConfirm={() => rotate.mutate()}
            />
            <ConfirmButton
              label="Revoke"
              confirmLabel={`Revoke ${apiKey.name}`}
              disabled={reason !== undefined}
              busy={revoke.isPending}
              onConfirm={() => revoke.mutate()}
            />
          </div>
        ) : null}
        <ProblemBanner error={rotate.error ?? revoke.error} />
      </td>
    </tr>
  );
}

function CreateKeyForm({
  role: ownRole,
  isAdmin,
  scopedTo,
  projects,
  onCreated,
}: {
  role: Role;
  isAdmin: boolean;
  scopedTo: string | null;
  projects: { id: string; name: string }[];
  onCreated: (created: Created) => Promise<void>;
}) {
  const roles = ROLES.slice(0, ROLES.indexOf(ownRole) + 1);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("Viewer");
  const [projectId, setProjectId] = useState("");
  const [expires, setExpires] = useState("");
  const [rpm, setRpm] = useState("");
  const [owner, setOwner] = useState("");
  const members = useQuery({
    queryKey: ["members"],
    queryFn: async () => unwrap(await api.GET("/api/v1/members")),
    enabled: isAdmin,
  });
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/api_keys", {
          body: {
            name,
            role,
            project_id: scopedTo ?? (projectId || null),
            expires_at: localInputToIso(expires),
            rate_limit_rpm: numberOrNull(rpm) as number | null,
            user_email: owner.trim() || null,
          },
        }),
      ),
    onSuccess: async (created) => {
      setName("");
      setExpires("");
      setRpm("");
      setOwner("");
      await onCreated(created);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  const field = (f: string) => ({
    "aria-invalid": fieldInvalid(create.error, f),
    "aria-describedby": `key-${f}-error`,
  });

  return (
    <form onSubmit={submit} className="card" aria-labelledby="new-key" noValidate>
      <h3 id="new-key">New API key</h3>
      <ProblemBanner error={create.error} />
      <label htmlFor="key-name">Name</label>
      <input
        id="key-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        {...field("name")}
      />
      <FieldError error={create.error} field="name" id="key-name-error" />
      <label htmlFor="key-role">Role</label>
      <select
        id="key-role"
        value={role}
        onChange={(e) => setRole(e.target.value as Role)}
        {...field("role")}
      >
        {roles.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
      <p className="hint">A key acts with the weaker of its role and its owner's role.</p>
      <FieldError error={create.error} field="role" id="key-role-error" />
      <label htmlFor="key-project">Project scope</label>
      <select
        id="key-project"
        value={scopedTo ?? projectId}
        disabled={scopedTo !== null}
        onChange={(e) => setProjectId(e.target.value)}
        {...field("project_id")}
      >
        {scopedTo === null && <option value="">All projects</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} only
          </option>
        ))}
      </select>
      {scopedTo !== null && (
        <p className="hint">Your key is scoped to one project; so are the keys it creates.</p>
      )}
      <FieldError error={create.error} field="project_id" id="key-project_id-error" />
      <label htmlFor="key-expires">Expires (optional, your local time)</label>
      <input
        id="key-expires"
        type="datetime-local"
        value={expires}
        onChange={(e) => setExpires(e.target.value)}
        {...field("expires_at")}
      />
      <FieldError error={create.error} field="expires_at" id="key-expires_at-error" />
      <label htmlFor="key-rpm">Rate limit (requests per minute, optional)</label>
      <input
        id="key-rpm"
        type="number"
        min={1}
        step={1}
        value={rpm}
        onChange={(e) => setRpm(e.target.value)}
        {...field("rate_limit_rpm")}
      />
      <FieldError error={create.error} field="rate_limit_rpm" id="key-rate_limit_rpm-error" />
      {isAdmin && (
        <>
          <label htmlFor="key-owner">Owner</label>
          <select
            id="key-owner"
            value={owner}
            onChange={(e) => setOwner(e.target.value)}
            {...field("user_email")}
          >
            <option value="">Yourself</option>
            {members.data?.data.map((m) => (
              <option key={m.user_id} value={m.email}>
                {m.email} ({m.role})
              </option>
            ))}
          </select>
          <FieldError error={create.error} field="user_email" id="key-user_email-error" />
        </>
      )}
      <button type="submit" disabled={create.isPending}>
        Create key
      </button>
    </form>
  );
}
