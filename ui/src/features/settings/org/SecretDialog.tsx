import { useEffect, useRef, useState } from "react";

/** The new API key, shown once: a modal dialog with the key, a copy button and the warning
 * that it cannot be shown again. Closing it forgets the key (the caller drops it). */
export function SecretDialog({
  secret,
  name,
  warning,
  onClose,
}: {
  secret: string;
  name: string;
  warning: string;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [copied, setCopied] = useState<"idle" | "done" | "failed">("idle");

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    // jsdom has no showModal; the open attribute is what it can show.
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    return () => {
      if (typeof dialog.close === "function" && dialog.open) dialog.close();
    };
  }, []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("done");
    } catch {
      // No clipboard (an insecure origin, a refused permission): the key stays selectable.
      setCopied("failed");
    }
  }

  return (
    <dialog
      ref={ref}
      className="secret-dialog"
      aria-labelledby="secret-title"
      aria-describedby="secret-warning"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id="secret-title">API key “{name}”</h2>
      <p id="secret-warning" className="secret-warning">
        <strong>{warning}</strong>
      </p>
      <label htmlFor="secret-value">Key</label>
      <textarea
        id="secret-value"
        className="secret-value"
        readOnly
        rows={2}
        value={secret}
        spellCheck={false}
        onFocus={(e) => e.currentTarget.select()}
      />
      <div className="dialog-actions">
        <button type="button" onClick={() => void copy()}>
          Copy key
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          I have stored it, close
        </button>
        <span role="status" aria-live="polite" className="muted">
          {copied === "done"
            ? "Copied to the clipboard."
            : copied === "failed"
              ? "The clipboard is not available here: select the key and copy it."
              : ""}
        </span>
      </div>
    </dialog>
  );
}
