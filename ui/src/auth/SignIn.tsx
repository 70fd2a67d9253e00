import { useState, type FormEvent } from "react";
import { signIn, signOutNotice } from "./session";
import { toProblem } from "../api/errors";

/** Sign in with an API key (``po_...``): checked against ``GET /api/v1/me`` before it is kept. */
export function SignIn() {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(signOutNotice());
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const response = await fetch("/api/v1/me", {
        headers: { Authorization: `Bearer ${key.trim()}` },
      });
      if (!response.ok) {
        const body: unknown = await response.json().catch(() => null);
        setError(toProblem(body, response.status).message);
        return;
      }
      signIn(key);
    } catch {
      setError("The API cannot be reached. Is `promptops up` running?");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} className="card signin-card" aria-labelledby="signin-title">
        <h1 id="signin-title">PromptOps</h1>
        <p className="muted">
          Sign in with an API key. <code>promptops up</code> prints where the local Admin key is.
        </p>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          placeholder="po_..."
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "signin-error" : undefined}
          required
        />
        {error && (
          <p id="signin-error" role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
