// Monaco from the app's own bundle: @monaco-editor/react loads Monaco from a CDN unless its
// loader is given the local `monaco-editor` package, and Monaco starts its web worker from
// `MonacoEnvironment.getWorker` (Vite bundles it through the `?worker` import). Nothing is
// fetched from anywhere but the app's origin. Import this module lazily: Monaco is large.
import { loader } from "@monaco-editor/react";
// The editor core and its features (find, hover, folding...), without the 80 bundled
// languages and their language workers (several MB the template language does not need).
import "monaco-editor/features/register.all";
import * as monaco from "monaco-editor/editor/editor.api";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";

self.MonacoEnvironment = {
  // Only the core worker: the editors here use the template language below, which needs
  // no language worker of its own.
  getWorker: () => new EditorWorker(),
};

loader.config({ monaco });

/** The language id of prompt templates (Jinja2: `{{ var }}`, `{% tag %}`, `{# comment #}`). */
export const TEMPLATE_LANGUAGE = "promptops-template";
/** The theme that colours template variables, tags and comments (AA contrast on white). */
export const TEMPLATE_THEME = "promptops-light";

monaco.languages.register({ id: TEMPLATE_LANGUAGE });
monaco.languages.setLanguageConfiguration(TEMPLATE_LANGUAGE, {
  brackets: [
    ["{{", "}}"],
    ["{%", "%}"],
  ],
  comments: { blockComment: ["{#", "#}"] },
});
monaco.languages.setMonarchTokensProvider(TEMPLATE_LANGUAGE, {
  keywords: [
    "if", "elif", "else", "endif", "for", "endfor", "in", "not", "and", "or", "is", "set",
    "endset", "macro", "endmacro", "call", "endcall", "filter", "endfilter", "with",
    "endwith", "raw", "endraw", "true", "false", "none", "True", "False", "None", "loop",
  ],
  tokenizer: {
    root: [
      [/\{\{-?/, { token: "delimiter.variable", next: "@expression" }],
      [/\{%-?/, { token: "delimiter.tag", next: "@tag" }],
      [/\{#/, { token: "comment", next: "@comment" }],
      [/[^{]+/, ""],
      [/\{/, ""],
    ],
    expression: [
      [/-?\}\}/, { token: "delimiter.variable", next: "@pop" }],
      { include: "@inside" },
    ],
    tag: [[/-?%\}/, { token: "delimiter.tag", next: "@pop" }], { include: "@inside" }],
    inside: [
      [/\|\s*[A-Za-z_]\w*/, "filter"],
      [/\.\s*[A-Za-z_]\w*/, "attribute"],
      [/[A-Za-z_]\w*/, { cases: { "@keywords": "keyword", "@default": "variable" } }],
      [/"[^"]*"|'[^']*'/, "string"],
      [/\d+(\.\d+)?/, "number"],
      [/\s+/, ""],
      [/./, "operator"],
    ],
    comment: [
      [/#\}/, { token: "comment", next: "@pop" }],
      [/[^#]+/, "comment"],
      [/#/, "comment"],
    ],
  },
} as monaco.languages.IMonarchLanguage);

monaco.editor.defineTheme(TEMPLATE_THEME, {
  base: "vs",
  inherit: true,
  rules: [
    { token: "variable", foreground: "1f4fd1", fontStyle: "bold" },
    { token: "delimiter.variable", foreground: "1f4fd1" },
    { token: "delimiter.tag", foreground: "8a1c7c" },
    { token: "keyword", foreground: "8a1c7c", fontStyle: "bold" },
    { token: "filter", foreground: "0f6b5c" },
    { token: "attribute", foreground: "1f4fd1" },
    { token: "string", foreground: "a4161a" },
    { token: "number", foreground: "116329" },
    { token: "comment", foreground: "5c5c66", fontStyle: "italic" },
  ],
  colors: {},
});

export { monaco };
