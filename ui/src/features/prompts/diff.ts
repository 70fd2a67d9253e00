// A unified diff (the API's `body_diff`) as the rows of a side-by-side view, the way split
// views pair them: context on both sides, each run of removed lines beside the run of added
// lines that replaced it, a hunk header between hunks.

export interface DiffCell {
  /** Line number in its version (1-based). */
  no: number;
  text: string;
  kind: "context" | "removed" | "added";
}

export type DiffRow =
  | { type: "hunk"; header: string; fromLine: number; toLine: number }
  | { type: "line"; left: DiffCell | null; right: DiffCell | null };

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/;

/** The rows of a side-by-side view of unified diff `text` ("" -> no rows). */
export function sideBySide(text: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let left = 0;
  let right = 0;
  let removed: DiffCell[] = [];
  let added: DiffCell[] = [];

  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      rows.push({ type: "line", left: removed[i] ?? null, right: added[i] ?? null });
    }
    removed = [];
    added = [];
  };

  let inHunk = false;
  for (const line of text.split("\n")) {
    const hunk = HUNK.exec(line);
    if (hunk) {
      flush();
      inHunk = true;
      left = Number(hunk[1]);
      right = Number(hunk[2]);
      rows.push({ type: "hunk", header: line, fromLine: left, toLine: right });
      continue;
    }
    // File headers (--- v1 / +++ v2) come before the first hunk; "\ No newline at end of
    // file" says something about the line before it, not a line of the text.
    if (!inHunk || line.startsWith("\\")) continue;
    const text = line.slice(1);
    if (line.startsWith("-")) {
      removed.push({ no: left++, text, kind: "removed" });
    } else if (line.startsWith("+")) {
      added.push({ no: right++, text, kind: "added" });
    } else if (line.startsWith(" ")) {
      flush();
      rows.push({
        type: "line",
        left: { no: left++, text, kind: "context" },
        right: { no: right++, text, kind: "context" },
      });
    }
  }
  flush();
  return rows;
}
