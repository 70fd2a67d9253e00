// A unified diff (as GET /prompts/{id}/diff gives it) with added and removed lines marked by
// their +/- sign and a word for screen readers, not by colour alone.

export interface DiffLine {
  kind: "add" | "del" | "hunk" | "ctx" | "file" | "note";
  text: string;
}

/** Split a unified diff into typed lines (file headers, hunks, added, removed, context, and
 * git's "\ No newline at end of file" notes). */
export function parseUnifiedDiff(diff: string): DiffLine[] {
  return diff
    .split("\n")
    .filter((line, i, all) => line !== "" || i < all.length - 1)
    .map((line) => {
      if (line.startsWith("+++") || line.startsWith("---")) return { kind: "file", text: line };
      if (line.startsWith("@@")) return { kind: "hunk", text: line };
      if (line.startsWith("\\")) return { kind: "note", text: line };
      if (line.startsWith("+")) return { kind: "add", text: line };
      if (line.startsWith("-")) return { kind: "del", text: line };
      return { kind: "ctx", text: line };
    });
}

const SPOKEN: Partial<Record<DiffLine["kind"], string>> = { add: "added: ", del: "removed: " };

export function DiffView({ diff, label }: { diff: string; label: string }) {
  const lines = parseUnifiedDiff(diff).filter((l) => l.kind !== "file");
  if (lines.length === 0) return <p className="muted">The bodies are identical.</p>;
  return (
    // Focusable so a keyboard can scroll a wide diff.
    <div className="diff" role="region" aria-label={label} tabIndex={0}>
      <pre>
        {lines.map((line, i) => (
          <span key={i} className={`diff-${line.kind}`}>
            {SPOKEN[line.kind] && <span className="visually-hidden">{SPOKEN[line.kind]}</span>}
            {line.text}
            {"\n"}
          </span>
        ))}
      </pre>
    </div>
  );
}
