import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap, type ApiProblem } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import TemplateEditor from "../../components/TemplateEditor";
import { FieldMessage, invalid } from "./FieldMessage";
import { markersFor, previewValue, type TemplateProblem } from "./template";
import { vname, type Version } from "./types";
import { useDebounced } from "./useDebounced";
import { useProject, usePrompt, useVersions } from "./queries";
import "./prompts.css";


interface VariableRow {
  key: number;
  name: string;
  type: string;
}

let nextKey = 0;
const row = (name: string, type: string): VariableRow => ({ key: nextKey++, name, type });

/** Preview requests wait until typing pauses this long (ms). */
const PREVIEW_DEBOUNCE_MS = 300;

/** One template field (body or system prompt) in the editor: its label, Monaco with the
 * preview's markers, and below it the preview's problems of that field and the API's refusal
 * of the saved version naming it. */
function TemplateField({
  field,
  label,
  optional = false,
  hint,
  value,
  onChange,
  height,
  problems,
  saveError,
}: {
  field: "body" | "system";
  label: string;
  optional?: boolean;
  hint?: ReactNode;
  value: string;
  onChange: (value: string) => void;
  height: number;
  problems: TemplateProblem[];
  saveError: unknown;
}) {
  const described = hint ? `${field}-hint ${field}-problems` : `${field}-problems`;
  return (
    <>
      <span className="label" id={`${field}-label`}>
        {label}
        {optional && " (optional)"}
      </span>
      {hint && (
        <p className="hint" id={`${field}-hint`}>
          {hint}
        </p>
      )}
      <TemplateEditor
        label={label}
        defaultValue={value}
        onChange={onChange}
        height={height}
        markers={markersFor(value, field, problems)}
        describedBy={described}
        invalid={invalid(saveError, field)}
      />
      <div id={`${field}-problems`}>
        {problems
          .filter((p) => p.field === field)
          .map((p) => (
            <p key={p.message} className="error field-error">
              {p.message}
            </p>
          ))}
        <FieldMessage error={saveError} field={field} id={`${field}-error`} />
      </div>
    </>
  );
}

function numberOrUndefined(text: string): number | undefined {
  return text.trim() === "" ? undefined : Number(text);
}

/** The form of a new version, prefilled from `base` (the chosen version, else empty). */
function EditorForm({ promptId, base }: { promptId: string; base: Version | undefined }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const decoding = (base?.decoding ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));

  const [body, setBody] = useState(base?.body ?? "");
  const [system, setSystem] = useState(base?.system ?? "");
  const [rows, setRows] = useState<VariableRow[]>(() =>
    Object.entries(base?.variables ?? {}).map(([n, t]) => row(n, typeof t === "string" ? t : JSON.stringify(t))),
  );
  const [values, setValues] = useState<Record<string, string>>({});
  const [model, setModel] = useState(base?.model ?? "");
  const [temperature, setTemperature] = useState(text(decoding.temperature));
  const [topP, setTopP] = useState(text(decoding.top_p));
  const [maxTokens, setMaxTokens] = useState(text(decoding.max_tokens));
  const [stop, setStop] = useState(Array.isArray(decoding.stop) ? decoding.stop.join("\n") : "");
  const [seed, setSeed] = useState(text(decoding.seed));
  const [responseFormat, setResponseFormat] = useState(
    base?.response_format ? JSON.stringify(base.response_format, null, 2) : "",
  );
  const [notes, setNotes] = useState("");
  const [formatError, setFormatError] = useState<string | null>(null);

  const declared = useMemo(() => {
    const out: Record<string, string> = {};
    for (const r of rows) if (r.name.trim()) out[r.name.trim()] = r.type.trim() || "str";
    return out;
  }, [rows]);

  const providers = useQuery({
    queryKey: ["providers"],
    queryFn: async () => unwrap(await api.GET("/api/v1/models/providers")),
  });
  const models = [...new Set((providers.data?.data ?? []).map((p) => p.model_name))];
  if (model && !models.includes(model)) models.push(model);

  // The preview of what is on screen, once typing pauses. Its variables (declared or used)
  // each get a value field; a new one starts empty.
  const [usedNames, setUsedNames] = useState<string[]>([]);
  const names = [...new Set([...Object.keys(declared), ...usedNames])].sort();
  const typedValues = Object.fromEntries(
    names.map((n) => [n, previewValue(declared[n] ?? "str", values[n] ?? "")]),
  );
  const draft = useDebounced(
    JSON.stringify({ body, system: system || null, variables: declared, values: typedValues }),
    PREVIEW_DEBOUNCE_MS,
  );
  const preview = useQuery({
    queryKey: ["template-preview", draft],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.POST("/api/v1/prompts/render", { body: JSON.parse(draft) })),
  });
  const used = preview.data?.used_variables;
  if (used && used.join() !== usedNames.join()) setUsedNames(used);
  const problems = preview.data?.errors ?? [];
  const variableProblems = problems.filter((p) => p.field === "variables");
  const undeclared = variableProblems.find((p) => p.message.includes("not declared"))?.names ?? [];
  const unused = variableProblems.find((p) => p.message.includes("not used"))?.names ?? [];
  // A preview value the API could not use (none given, or one that fails rendering).
  const valueProblem = (name: string) =>
    problems.find((p) => p.field === "values" && p.names.includes(name))?.message;

  const save = useMutation({
    mutationFn: async (response_format: Record<string, unknown> | null) =>
      unwrap(
        await api.POST("/api/v1/prompts/{prompt_id}/versions", {
          params: { path: { prompt_id: promptId } },
          body: {
            body,
            system: system || null,
            variables: declared,
            notes,
            model: model || null,
            decoding: {
              temperature: numberOrUndefined(temperature),
              top_p: numberOrUndefined(topP),
              max_tokens: numberOrUndefined(maxTokens),
              stop: stop.trim() ? stop.split("\n").filter((s) => s !== "") : undefined,
              seed: numberOrUndefined(seed),
            },
            response_format,
          },
        }),
      ),
    onSuccess: async (version) => {
      await queryClient.invalidateQueries({ queryKey: ["versions", promptId] });
      navigate(`/prompts/${promptId}`, { state: { created: version.version } });
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    let format: Record<string, unknown> | null = null;
    if (responseFormat.trim()) {
      try {
        const parsed: unknown = JSON.parse(responseFormat);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          setFormatError("The response format must be a JSON object.");
          return;
        }
        format = parsed as Record<string, unknown>;
      } catch (exc) {
        setFormatError(`The response format is not valid JSON: ${(exc as Error).message}`);
        return;
      }
    }
    setFormatError(null);
    save.mutate(format);
  }

  const setRow = (key: number, patch: Partial<VariableRow>) =>
    setRows(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));
  const declare = (name: string) => setRows([...rows, row(name, "str")]);
  const undeclare = (name: string) => setRows(rows.filter((r) => r.name.trim() !== name));
  const saveError: ApiProblem | null = (save.error as ApiProblem | null) ?? null;

  return (
    <form onSubmit={submit} aria-labelledby="editor-title" className="prompt-editor">
      <div className="editor-layout">
        <div>
          <TemplateField
            field="body"
            label="Template body"
            hint={
              <>
                Jinja2: <code>{"{{ variable }}"}</code>, <code>{"{% if … %}"}</code>. Tab leaves
                the editor.
              </>
            }
            value={body}
            onChange={setBody}
            height={240}
            problems={problems}
            saveError={save.error}
          />
          <TemplateField
            field="system"
            label="System prompt"
            optional
            value={system}
            onChange={setSystem}
            height={110}
            problems={problems}
            saveError={save.error}
          />

          <fieldset className="variables" aria-describedby="variable-problems">
            <legend>Declared variables</legend>
            {rows.length === 0 && <p className="muted">None declared.</p>}
            {rows.map((r, i) => (
              <div className="variable-row" key={r.key}>
                <div>
                  <label htmlFor={`var-name-${r.key}`}>Name {i + 1}</label>
                  <input
                    id={`var-name-${r.key}`}
                    value={r.name}
                    onChange={(e) => setRow(r.key, { name: e.target.value })}
                  />
                </div>
                <div>
                  <label htmlFor={`var-type-${r.key}`}>Type {i + 1}</label>
                  <input
                    id={`var-type-${r.key}`}
                    value={r.type}
                    onChange={(e) => setRow(r.key, { type: e.target.value })}
                  />
                </div>
                <button
                  type="button"
                  className="secondary small"
                  onClick={() => setRows(rows.filter((x) => x.key !== r.key))}
                >
                  Remove<span className="visually-hidden"> variable {r.name || i + 1}</span>
                </button>
              </div>
            ))}
            <button type="button" className="secondary small" onClick={() => declare("")}>
              Add a variable
            </button>
            <div id="variable-problems" aria-live="polite" className="variable-problems">
              {undeclared.length > 0 && (
                <div className="warning">
                  <p>
                    Used but not declared: <strong>{undeclared.join(", ")}</strong>
                  </p>
                  {undeclared.map((n) => (
                    <button
                      key={n}
                      type="button"
                      className="secondary small"
                      onClick={() => declare(n)}
                    >
                      Declare {n}
                    </button>
                  ))}
                </div>
              )}
              {unused.length > 0 && (
                <div className="warning">
                  <p>
                    Declared but not used: <strong>{unused.join(", ")}</strong>
                  </p>
                  {unused.map((n) => (
                    <button
                      key={n}
                      type="button"
                      className="secondary small"
                      onClick={() => undeclare(n)}
                    >
                      Remove {n}
                    </button>
                  ))}
                </div>
              )}
            </div>
            <FieldMessage error={save.error} field="variables" id="variables-error" />
          </fieldset>
        </div>

        <aside aria-labelledby="preview-heading" className="preview">
          <h2 id="preview-heading">Preview</h2>
          <p className="tokens" aria-live="polite" id="token-count">
            {preview.data ? (
              <>
                ≈ <strong>{preview.data.prompt_tokens}</strong> prompt tokens{" "}
                <span className="muted">
                  (an estimate
                  {preview.data.rendered ? "" : ", of the template as written"})
                </span>
              </>
            ) : (
              <span className="muted">Counting tokens…</span>
            )}
          </p>
          <ProblemBanner error={preview.error} />
          {names.length > 0 && (
            <fieldset className="values">
              <legend>Variable values</legend>
              {names.map((n) => (
                <div key={n}>
                  <label htmlFor={`value-${n}`}>{n}</label>
                  <textarea
                    id={`value-${n}`}
                    rows={1}
                    value={values[n] ?? ""}
                    onChange={(e) => setValues({ ...values, [n]: e.target.value })}
                    aria-invalid={valueProblem(n) ? true : undefined}
                    aria-describedby={`value-${n}-error`}
                  />
                  {valueProblem(n) && (
                    <p id={`value-${n}-error`} className="error field-error">
                      {valueProblem(n)}
                    </p>
                  )}
                </div>
              ))}
              {names.some((n) => previewValue(declared[n] ?? "str", "1") !== "1") && (
                <p className="hint">
                  Values of variables typed other than <code>str</code> are read as JSON when
                  they parse (<code>3</code>, <code>["a", "b"]</code>).
                </p>
              )}
            </fieldset>
          )}
          {preview.data?.messages ? (
            <ol className="messages" aria-label="Rendered messages">
              {preview.data.messages.map((m, i) => (
                <li key={i} className={`message message-${m.role}`}>
                  <span className="message-role">{m.role}</span>
                  <pre>{m.content}</pre>
                </li>
              ))}
            </ol>
          ) : (
            preview.data && (
              <p className="muted">
                Not rendered: {preview.data.errors.map((e) => e.message).join("; ")}
              </p>
            )
          )}
        </aside>
      </div>

      <h2>Model and decoding</h2>
      <div className="settings-grid">
        <div>
          <label htmlFor="model">Model</label>
          <select
            id="model"
            value={model}
            onChange={(e) => setModel(e.target.value)}
            aria-invalid={invalid(save.error, "model")}
            aria-describedby="model-error"
          >
            <option value="">The default model</option>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <FieldMessage error={save.error} field="model" id="model-error" />
        </div>
        {(
          [
            ["temperature", "Temperature (0–2)", temperature, setTemperature],
            ["top_p", "Top p (0–1]", topP, setTopP],
            ["max_tokens", "Max tokens (1–32768)", maxTokens, setMaxTokens],
            ["seed", "Seed", seed, setSeed],
          ] as const
        ).map(([field, label, value, set]) => (
          <div key={field}>
            <label htmlFor={`decoding-${field}`}>{label}</label>
            <input
              id={`decoding-${field}`}
              type="number"
              step="any"
              value={value}
              onChange={(e) => set(e.target.value)}
              aria-invalid={invalid(save.error, `decoding.${field}`)}
              aria-describedby={`decoding-${field}-error`}
            />
            <FieldMessage
              error={save.error}
              field={`decoding.${field}`}
              id={`decoding-${field}-error`}
            />
          </div>
        ))}
        <div>
          <label htmlFor="decoding-stop">Stop sequences (one per line)</label>
          <textarea
            id="decoding-stop"
            rows={2}
            value={stop}
            onChange={(e) => setStop(e.target.value)}
            aria-invalid={invalid(save.error, "decoding.stop")}
            aria-describedby="decoding-stop-error"
          />
          <FieldMessage error={save.error} field="decoding.stop" id="decoding-stop-error" />
        </div>
      </div>
      <label htmlFor="response-format">Response format (JSON, optional)</label>
      <textarea
        id="response-format"
        className="code"
        rows={4}
        value={responseFormat}
        onChange={(e) => setResponseFormat(e.target.value)}
        placeholder='{"type": "json_schema", "json_schema": {…}}'
        aria-invalid={formatError || invalid(save.error, "response_format") ? true : undefined}
        aria-describedby="response-format-error"
      />
      {formatError ? (
        <p id="response-format-error" className="error field-error" role="alert">
          {formatError}
        </p>
      ) : (
        <FieldMessage error={save.error} field="response_format" id="response-format-error" />
      )}
      <label htmlFor="notes">Notes</label>
      <textarea
        id="notes"
        rows={2}
        value={notes}
        onChange={(e) => setNotes(e.target.value)}
        aria-invalid={invalid(save.error, "notes")}
        aria-describedby="notes-error"
      />
      <FieldMessage error={save.error} field="notes" id="notes-error" />

      <ProblemBanner error={saveError} />
      <div className="actions">
        <button type="submit" disabled={save.isPending}>
          Save version
        </button>
        <Link to={`/prompts/${promptId}`}>Cancel</Link>
      </div>
    </form>
  );
}

/** A new version of a prompt (`?from=N` starts from version N, else from the latest). */
export default function PromptEditorPage() {
  const { promptId = "" } = useParams();
  const [search] = useSearchParams();
  const from = search.get("from");
  const prompt = usePrompt(promptId);
  const versions = useVersions(promptId);
  const project = useProject(prompt.data?.project_id);
  if (prompt.isPending || versions.isPending) return <Loading what="Loading the prompt" />;
  if (prompt.error || versions.error) return <ProblemBanner error={prompt.error ?? versions.error} />;
  const list = versions.data.data;
  const base = from
    ? list.find((v) => v.version === Number(from))
    : [...list].sort((a, b) => b.version - a.version)[0];
  return (
    <>
      <p className="breadcrumb">
        <Link to="/">Projects</Link> /{" "}
        <Link to={`/projects/${prompt.data.project_id}`}>{project.data?.name ?? "Project"}</Link> /{" "}
        <Link to={`/prompts/${promptId}`}>{prompt.data.name}</Link> /
      </p>
      <h1 id="editor-title">New version of {prompt.data.name}</h1>
      {from && !base ? (
        <ProblemBanner error={new Error(`This prompt has no version ${from}.`)} />
      ) : (
        <>
          <p className="muted">
            {base ? `Starting from ${vname(base.version)}.` : "The prompt's first version."}
          </p>
          <EditorForm key={base?.id ?? "new"} promptId={promptId} base={base} />
        </>
      )}
    </>
  );
}
