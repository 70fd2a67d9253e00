// Small pure helpers of the prompt editor: where variables sit in a template (for editor
// markers), which line a syntax error names, the editor markers of the preview's problems,
// and how a preview value is read.
import type { components } from "../../api/schema";
import type { TemplateMarker } from "../../components/TemplateEditor";

/** One problem of POST /prompts/render: the field it concerns, a message, the names involved. */
export type TemplateProblem = components["schemas"]["TemplatePreviewPublic"]["errors"][number];

export interface TextRange {
  line: number; // 1-based
  startColumn: number; // 1-based, inclusive
  endColumn: number; // 1-based, exclusive
  name: string;
}

const TAG = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/** Where each of `names` is read inside a `{{ }}` or `{% %}` tag of `text`. */
export function variableRanges(text: string, names: string[]): TextRange[] {
  if (names.length === 0) return [];
  const wanted = new Set(names);
  const ranges: TextRange[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const position = (offset: number) => {
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) line++;
    return { line: line + 1, column: offset - lineStarts[line] + 1 };
  };
  for (const tag of text.matchAll(TAG)) {
    // Identifiers not after a "." (attributes) and not inside quotes.
    const ident = /(["'])(?:(?!\1).)*\1|(\.\s*)?\b([A-Za-z_]\w*)\b/g;
    for (const m of tag[0].matchAll(ident)) {
      if (m[1] || m[2] || !wanted.has(m[3])) continue;
      const start = position(tag.index! + m.index! + m[0].length - m[3].length);
      ranges.push({
        line: start.line,
        startColumn: start.column,
        endColumn: start.column + m[3].length,
        name: m[3],
      });
    }
  }
  return ranges;
}

/** The line a template syntax error message names ("... on line 3: ..."), or null. */
export function errorLine(message: string): number | null {
  const m = /on line (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

/** A preview value as the API should get it: text for a `str` variable (or one without a
 * type), else the JSON the text parses as (`3`, `["a", "b"]`), else the text itself. */
export function previewValue(type: string, text: string): unknown {
  const t = type.trim().toLowerCase();
  if (t === "" || t === "str" || t === "string" || t === "text") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The markers of editor `field` ("body" or "system", holding `text`): a syntax error of that
 * field on the line its message names (else line 1), and a warning on each place the text
 * reads a variable the API found used but not declared. */
export function markersFor(
  text: string,
  field: "body" | "system",
  problems: TemplateProblem[],
): TemplateMarker[] {
  const markers: TemplateMarker[] = [];
  for (const p of problems) {
    if (p.field === field) {
      markers.push({ severity: "error", message: p.message, line: errorLine(p.message) ?? 1 });
    } else if (p.field === "variables" && p.message.includes("not declared")) {
      for (const r of variableRanges(text, p.names)) {
        markers.push({
          severity: "warning",
          message: `${r.name} is used but not declared`,
          line: r.line,
          startColumn: r.startColumn,
          endColumn: r.endColumn,
        });
      }
    }
  }
  return markers;
}
