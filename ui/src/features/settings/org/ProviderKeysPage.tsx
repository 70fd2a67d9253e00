import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../../api/client";
import { unwrap } from "../../../api/errors";
import { atLeast, useMe } from "../../../auth/me";
import { ConfirmButton } from "../../../components/ConfirmButton";
import { Loading } from "../../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../../components/Problem";
import { RoleNote } from "../../../components/RoleNote";
import type { components } from "../../../api/schema";
import { formatTime } from "../format";

type Credential = components["schemas"]["ProviderKeyPublic"];

/** The organization's provider keys (Admin): listed without their secrets (a four-character
 * hint), added with provider, name, key and an optional API base, replaced (a new secret and
 * API base under the same name), deleted. */
export function ProviderKeysPage() {
  const me = useMe();
  const isAdmin = atLeast(me.data?.role, "Admin");
  return (
    <section aria-labelledby="provider-keys-title">
      <h2 id="provider-keys-title">Provider keys</h2>
      <p className="muted">
        A key stored here replaces the deployment's own key on this organization's calls to that
        provider (<code>openai</code> for <code>openai/gpt-4o</code>). Keys are encrypted at rest
        and never shown again.
      </p>
      {me.isPending ? null : isAdmin ? (
        <ProviderKeys />
      ) : (
        <RoleNote needed="Admin" what="see and manage provider keys" />
      )}
    </section>
  );
}

function ProviderKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ["provider_keys"],
    queryFn: async () => unwrap(await api.GET("/api/v1/provider_keys")),
  });
  const remove = useMutation({
    mutationFn: async (id: string) =>
      unwrap(
        await api.DELETE("/api/v1/provider_keys/{credential_id}", {
          params: { path: { credential_id: id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["provider_keys"] }),
  });

  return (
    <>
      <ProblemBanner error={keys.error ?? remove.error} />
      {keys.isPending ? (
        <Loading what="Loading provider keys" />
      ) : keys.data && keys.data.count === 0 ? (
        <p className="muted">No provider keys: calls use each deployment's own key.</p>
      ) : (
        <table className="data">
          <caption className="visually-hidden">Provider keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Provider</th>
              <th scope="col">Key</th>
              <th scope="col">API base</th>
              <th scope="col">Added</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.data?.data.map((k) => (
              <ProviderKeyRow
                key={k.id}
                credential={k}
                busy={remove.isPending}
                onDelete={() => remove.mutate(k.id)}
              />
            ))}
          </tbody>
        </table>
      )}
      <AddProviderKeyForm />
    </>
  );
}

/** One stored key: its hint, and Replace (an inline form under the row) and Delete. */
function ProviderKeyRow({
  credential: k,
  busy,
  onDelete,
}: {
  credential: Credential;
  busy: boolean;
  onDelete: () => void;
}) {
  const [replacing, setReplacing] = useState(false);
  return (
    <>
      <tr>
        <th scope="row">{k.name}</th>
        <td>
          <code>{k.provider}</code>
        </td>
        <td className="nowrap">
          <code>…{k.hint}</code>
        </td>
        <td>{k.api_base ?? <span className="muted">provider default</span>}</td>
        <td>
          {formatTime(k.created_at)} <span className="muted small">by {k.created_by}</span>
        </td>
        <td>
          <div className="row-actions">
            <button
              type="button"
              className="secondary"
              aria-expanded={replacing}
              aria-controls={`pk-replace-${k.id}`}
              aria-label={`Replace ${k.name}`}
              onClick={() => setReplacing(!replacing)}
            >
              Replace
            </button>
            <ConfirmButton
              label="Delete"
              confirmLabel={`Delete ${k.name}`}
              busy={busy}
              onConfirm={onDelete}
            />
          </div>
        </td>
      </tr>
      {replacing && (
        <tr id={`pk-replace-${k.id}`}>
          <td colSpan={6}>
            <ReplaceProviderKeyForm credential={k} onDone={() => setReplacing(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

/** A new secret (and API base) for a stored key: ``PUT /provider_keys/{id}``. The API's 422
 * is shown next to the field it names; the key never comes back. */
export function ReplaceProviderKeyForm({
  credential,
  onDone,
}: {
  credential: Credential;
  onDone: () => void;
}) {
  const queryClient = useQueryClient();
  const [apiKey, setApiKey] = useState("");
  const [apiBase, setApiBase] = useState(credential.api_base ?? "");
  const replace = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/provider_keys/{credential_id}", {
          params: { path: { credential_id: credential.id } },
          body: { api_key: apiKey, api_base: apiBase.trim() || null },
        }),
      ),
    onSuccess: async () => {
      setApiKey("");
      await queryClient.invalidateQueries({ queryKey: ["provider_keys"] });
      onDone();
    },
  });
  const id = (f: string) => `pk-${credential.id}-${f}`;
  const field = (f: string) => ({
    "aria-invalid": fieldInvalid(replace.error, f),
    "aria-describedby": `${id(f)}-error`,
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    replace.mutate();
  }

  return (
    <form
      onSubmit={submit}
      className="replace-form"
      aria-label={`Replace the key ${credential.name}`}
      noValidate
    >
      <ProblemBanner error={replace.error} />
      <div className="replace-fields">
        <div>
          <label htmlFor={id("api_key")}>New key for {credential.name}</label>
          <input
            id={id("api_key")}
            type="password"
            autoComplete="off"
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
            {...field("api_key")}
          />
          <FieldError error={replace.error} field="api_key" id={`${id("api_key")}-error`} />
        </div>
        <div>
          <label htmlFor={id("api_base")}>API base for {credential.name} (optional)</label>
          <input
            id={id("api_base")}
            type="url"
            value={apiBase}
            placeholder="https://api.example.com/v1"
            onChange={(e) => setApiBase(e.target.value)}
            {...field("api_base")}
          />
          <FieldError error={replace.error} field="api_base" id={`${id("api_base")}-error`} />
        </div>
      </div>
      <div className="form-actions">
        <button type="submit" disabled={replace.isPending}>
          Replace key
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function AddProviderKeyForm() {
  const queryClient = useQueryClient();
  const [provider, setProvider] = useState("");
  const [name, setName] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [apiBase, setApiBase] = useState("");
  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/provider_keys", {
          body: { provider, name, api_key: apiKey, api_base: apiBase.trim() || null },
        }),
      ),
    onSuccess: async () => {
      setProvider("");
      setName("");
      setApiKey("");
      setApiBase("");
      await queryClient.invalidateQueries({ queryKey: ["provider_keys"] });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate();
  }

  const field = (f: string, hint = false) => ({
    "aria-invalid": fieldInvalid(add.error, f),
    "aria-describedby": `${hint ? `pk-${f}-hint ` : ""}pk-${f}-error`,
  });

  return (
    <form onSubmit={submit} className="card" aria-labelledby="add-provider-key" noValidate>
      <h3 id="add-provider-key">Add a provider key</h3>
      <ProblemBanner error={add.error} />
      <label htmlFor="pk-provider">Provider</label>
      <input
        id="pk-provider"
        value={provider}
        placeholder="openai"
        onChange={(e) => setProvider(e.target.value)}
        {...field("provider", true)}
      />
      <p className="hint" id="pk-provider-hint">
        LiteLLM's provider name: <code>openai</code>, <code>anthropic</code>, <code>azure</code>…
      </p>
      <FieldError error={add.error} field="provider" id="pk-provider-error" />
      <label htmlFor="pk-name">Name</label>
      <input
        id="pk-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        {...field("name")}
      />
      <FieldError error={add.error} field="name" id="pk-name-error" />
      <label htmlFor="pk-key">Key</label>
      <input
        id="pk-key"
        type="password"
        autoComplete="off"
        value={apiKey}
        onChange={(e) => setApiKey(e.target.value)}
        {...field("api_key")}
      />
      <FieldError error={add.error} field="api_key" id="pk-api_key-error" />
      <label htmlFor="pk-base">API base (optional)</label>
      <input
        id="pk-base"
        type="url"
        value={apiBase}
        placeholder="https://api.example.com/v1"
        onChange={(e) => setApiBase(e.target.value)}
        {...field("api_base", true)}
      />
      <p className="hint" id="pk-api_base-hint">
        Blank: the provider's default endpoint.
      </p>
      <FieldError error={add.error} field="api_base" id="pk-api_base-error" />
      <button type="submit" disabled={add.isPending}>
        Add provider key
      </button>
    </form>
  );
}
