// A prompt template editor: Monaco from the local bundle (./localMonaco), `{{ variable }}`
// highlighting, and markers (squiggles with a hover message) for the problems the caller
// found. Load it lazily (React.lazy): it pulls in Monaco.
import Editor from "@monaco-editor/react";
import { useEffect, useRef } from "react";
import { TEMPLATE_LANGUAGE, TEMPLATE_THEME, monaco } from "./localMonaco";

export interface TemplateMarker {
  severity: "error" | "warning";
  message: string;
  line: number;
  startColumn?: number;
  endColumn?: number;
}

interface Props {
  /** The accessible name of the editing area (also shown as its label). */
  label: string;
  /** The text the editor starts with. The editor owns its text from then on (a controlled
   * value would lag behind fast typing and overwrite keystrokes); `onChange` reports it. */
  defaultValue: string;
  onChange: (value: string) => void;
  markers?: TemplateMarker[];
  /** Height in pixels. */
  height?: number;
  /** Ids of elements describing the editor (hints, errors). */
  describedBy?: string;
  invalid?: boolean;
}

function applyMarkers(editor: monaco.editor.IStandaloneCodeEditor, markers: TemplateMarker[]) {
  const model = editor.getModel();
  if (!model) return;
  monaco.editor.setModelMarkers(
    model,
    "promptops",
    markers.map((m) => {
      const line = Math.max(1, Math.min(m.line, model.getLineCount()));
      return {
        severity:
          m.severity === "error" ? monaco.MarkerSeverity.Error : monaco.MarkerSeverity.Warning,
        message: m.message,
        startLineNumber: line,
        endLineNumber: line,
        startColumn: m.startColumn ?? 1,
        endColumn: m.endColumn ?? model.getLineMaxColumn(line),
      };
    }),
  );
}

export default function TemplateEditor({
  label,
  defaultValue,
  onChange,
  markers = [],
  height = 200,
  describedBy,
  invalid,
}: Props) {
  const editorRef = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);

  const markersRef = useRef(markers);
  markersRef.current = markers;

  useEffect(() => {
    if (editorRef.current) applyMarkers(editorRef.current, markers);
  }, [markers]);

  return (
    <div
      className={invalid ? "template-editor invalid" : "template-editor"}
      style={{ height }}
      data-editor={label}
    >
      <Editor
        defaultValue={defaultValue}
        onChange={(v) => onChange(v ?? "")}
        language={TEMPLATE_LANGUAGE}
        theme={TEMPLATE_THEME}
        loading={<span className="muted">Loading the editor…</span>}
        onMount={(editor) => {
          editorRef.current = editor;
          const input = editor.getDomNode()?.querySelector("textarea, .native-edit-context");
          if (input && describedBy) input.setAttribute("aria-describedby", describedBy);
          applyMarkers(editor, markersRef.current);
        }}
        options={{
          ariaLabel: label,
          minimap: { enabled: false },
          lineNumbers: "on",
          wordWrap: "on",
          scrollBeyondLastLine: false,
          automaticLayout: true,
          autoClosingBrackets: "never",
          autoClosingQuotes: "never",
          fontSize: 14,
          tabFocusMode: true,
          renderLineHighlight: "none",
          quickSuggestions: false,
          fixedOverflowWidgets: true,
        }}
      />
    </div>
  );
}
