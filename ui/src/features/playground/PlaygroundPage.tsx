import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { isProblem, unwrap, type ApiProblem } from "../../api/errors";
import { atLeast, useMe } from "../../auth/me";
import { Loading } from "../../components/Loading";
import { FieldError, ProblemBanner, fieldInvalid } from "../../components/Problem";
import { MessagesEditor, type Message } from "./MessagesEditor";
import { RecentRuns, runsQueryKey } from "./RecentRuns";
import { NO_RETRIEVAL, RetrievalFields, retrievalRequest } from "./RetrievalFields";
import { RunOutput } from "./RunOutput";
import { streamChat, streamGenerate, type ChatBody, type GenerateBody } from "./stream";
import { useStreamRun } from "./useStreamRun";
import { VariablesForm, filledVariables } from "./VariablesForm";
import "./playground.css";

type Mode = "prompt" | "free";

/** The /v1 API names fields as OpenAI does; the form's fields are named as in `generate`. */
const OPENAI_FIELDS: Record<string, string> = {
  temperature: "decoding.temperature",
  max_tokens: "decoding.max_tokens",
  response_format: "schema",
  "OpenAI-Project": "project",
};
/** Fields of `generate` that name the prompt version or label picked. */
const TARGET_FIELDS = ["prompt_version_id", "label", "prompt_id", "prompt", "project_id"];

function formProblem(problem: ApiProblem | Error | null): ApiProblem | Error | null {
  if (!problem || !isProblem(problem)) return problem;
  const fields: Record<string, string> = {};
  for (const [field, message] of Object.entries(problem.fields)) {
    const name = OPENAI_FIELDS[field] ?? (TARGET_FIELDS.includes(field) ? "target" : field);
    fields[name] ??= message;
  }
  return { ...problem, fields };
}

function localProblem(field: string, message: string): ApiProblem {
  return { status: 0, message, fields: { [field]: message } };
}

/** The playground: run a prompt version (or a label) or free-text messages on a model or a
 * routing policy, watch the answer stream in, read its tokens and cost, and the last runs. */
export function PlaygroundPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const mode: Mode = params.get("mode") === "free" ? "free" : "prompt";
  const projectId = params.get("project") ?? "";
  const promptId = params.get("prompt") ?? "";
  const target = params.get("target") ?? "";

  function choose(changes: Record<string, string | null>) {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        return next;
      },
      { replace: true },
    );
  }

  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
  const prompts = useQuery({
    queryKey: ["prompts", projectId],
    enabled: projectId !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/prompts", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
  const versions = useQuery({
    queryKey: ["versions", promptId],
    enabled: promptId !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/versions", {
          params: { path: { prompt_id: promptId } },
        }),
      ),
  });
  const labels = useQuery({
    queryKey: ["labels", promptId],
    enabled: promptId !== "",
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/labels", {
          params: { path: { prompt_id: promptId } },
        }),
      ),
  });
  const models = useQuery({
    queryKey: ["models", projectId],
    enabled: projectId !== "",
    queryFn: async () => {
      const result = await api.GET("/v1/models", { headers: { "OpenAI-Project": projectId } });
      return unwrap(result) as unknown as { data: { id: string }[] };
    },
  });

  // Defaults: the first project, its first prompt, that prompt's newest version.
  useEffect(() => {
    const list = projects.data?.data;
    if (list?.length && !list.some((p) => p.id === projectId)) {
      choose({ project: list[0].id, prompt: null, target: null });
    }
  }, [projects.data, projectId]);
  useEffect(() => {
    const list = prompts.data?.data;
    if (list?.length && !list.some((p) => p.id === promptId)) {
      choose({ prompt: list[0].id, target: null });
    }
  }, [prompts.data, promptId]);
  useEffect(() => {
    const list = versions.data?.data;
    if (list?.length && target === "") {
      const newest = list.reduce((a, b) => (b.version > a.version ? b : a));
      choose({ target: `v:${newest.id}` });
    }
  }, [versions.data, target]);

  const version = useMemo(() => {
    const list = versions.data?.data ?? [];
    if (target.startsWith("v:")) return list.find((v) => v.id === target.slice(2)) ?? null;
    if (target.startsWith("l:")) {
      const label = labels.data?.data.find((l) => l.name === target.slice(2));
      return label ? (list.find((v) => v.id === label.prompt_version_id) ?? null) : null;
    }
    return null;
  }, [versions.data, labels.data, target]);

  const [model, setModel] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [schemaText, setSchemaText] = useState("");
  const [messages, setMessages] = useState<Message[]>([{ role: "user", content: "" }]);
  const [local, setLocal] = useState<ApiProblem | null>(null);
  const [rag, setRag] = useState(NO_RETRIEVAL);
  const [ranWithSchema, setRanWithSchema] = useState(false);
  const run = useStreamRun();
  const streaming = run.state.phase === "streaming";
  const problem = local ?? formProblem(run.state.phase === "refused" ? run.state.problem : null);

  const modelIds = (models.data?.data ?? []).map((m) => m.id);
  const catalog = modelIds.filter((id) => !id.includes(":"));
  const policies = modelIds.filter((id) => id.startsWith("policy:"));
  // Free text needs a model: the first one unless the user picked another.
  const chosenModel = mode === "free" && model === "" ? (catalog[0] ?? "") : model;
  const canRun = atLeast(me.data?.role, "Editor");
  const runsScope = { projectId, promptId: mode === "prompt" && promptId ? promptId : null };

  async function submit(event: FormEvent) {
    event.preventDefault();
    setLocal(null);
    let schema: Record<string, unknown> | undefined;
    if (schemaText.trim()) {
      try {
        schema = JSON.parse(schemaText) as Record<string, unknown>;
      } catch (error) {
        setLocal(localProblem("schema", `Not JSON: ${(error as Error).message}`));
        return;
      }
    }
    const decoding: Record<string, number> = {};
    for (const [name, text] of [
      ["temperature", temperature],
      ["max_tokens", maxTokens],
    ] as const) {
      if (text.trim() !== "") {
        const n = Number(text);
        if (!Number.isFinite(n)) {
          setLocal(localProblem(`decoding.${name}`, "Enter a number."));
          return;
        }
        decoding[name] = n;
      }
    }
    // Structured output: a schema given here, or the version's own response_format.
    setRanWithSchema(
      schema !== undefined || (mode === "prompt" && Boolean(version?.response_format)),
    );
    let outcome;
    if (mode === "prompt") {
      if (!version && !target.startsWith("l:")) {
        setLocal(localProblem("target", "Choose a prompt version or a label."));
        return;
      }
      const retrieval = retrievalRequest(rag, Object.keys(version?.variables ?? {}));
      if (retrieval.problem) {
        setLocal(retrieval.problem);
        return;
      }
      const body: GenerateBody = {
        variables: filledVariables(values, version?.variables ?? {}),
        stream: true,
        ...(target.startsWith("l:")
          ? { prompt_id: promptId, label: target.slice(2) }
          : { prompt_version_id: version!.id }),
        ...(Object.keys(decoding).length ? { decoding } : {}),
        ...(schema ? { schema } : {}),
        ...(model ? { model } : {}),
        ...(retrieval.body ? { retrieval: retrieval.body } : {}),
      };
      outcome = await run.start((options) => streamGenerate(body, options));
    } else {
      const body: ChatBody = {
        model: chosenModel,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        ...decoding,
        ...(schema
          ? {
              response_format: {
                type: "json_schema",
                json_schema: { name: "playground", schema },
              },
            }
          : {}),
      };
      outcome = await run.start((options) => streamChat(body, projectId, options));
    }
    if (outcome) await queryClient.invalidateQueries({ queryKey: runsQueryKey(runsScope) });
  }

  const versionList = versions.data?.data ?? [];
  const labelList = labels.data?.data ?? [];
  return (
    <>
      <h1>Playground</h1>
      <ProblemBanner error={projects.error ?? prompts.error ?? versions.error ?? models.error} />
      {projects.isPending ? (
        <Loading what="Loading projects" />
      ) : projects.data?.count === 0 ? (
        <p className="muted">No projects yet: create one on the Projects page first.</p>
      ) : (
        <div className="playground-grid">
          <form onSubmit={submit} noValidate className="card playground-setup" aria-labelledby="setup">
            <h2 id="setup">Setup</h2>
            <fieldset className="mode">
              <legend>Run</legend>
              <label className="inline">
                <input
                  type="radio"
                  name="mode"
                  value="prompt"
                  checked={mode === "prompt"}
                  onChange={() => choose({ mode: null })}
                />
                a prompt version
              </label>
              <label className="inline">
                <input
                  type="radio"
                  name="mode"
                  value="free"
                  checked={mode === "free"}
                  onChange={() => choose({ mode: "free" })}
                />
                free-text messages
              </label>
            </fieldset>

            <label htmlFor="pg-project">Project</label>
            <select
              id="pg-project"
              value={projectId}
              onChange={(e) => choose({ project: e.target.value, prompt: null, target: null })}
              aria-invalid={fieldInvalid(problem, "project")}
              aria-describedby="pg-project-error"
            >
              {projects.data?.data.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
            <FieldError error={problem} field="project" id="pg-project-error" />

            {mode === "prompt" ? (
              <>
                <label htmlFor="pg-prompt">Prompt</label>
                <select
                  id="pg-prompt"
                  value={promptId}
                  onChange={(e) => choose({ prompt: e.target.value, target: null })}
                  disabled={!prompts.data?.count}
                >
                  {prompts.data?.count === 0 && <option value="">No prompts in this project</option>}
                  {prompts.data?.data.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
                <label htmlFor="pg-target">Version or label</label>
                <select
                  id="pg-target"
                  value={target}
                  onChange={(e) => choose({ target: e.target.value })}
                  aria-invalid={fieldInvalid(problem, "target")}
                  aria-describedby="pg-target-error"
                  disabled={versionList.length === 0}
                >
                  {versionList.length === 0 && <option value="">No versions yet</option>}
                  {labelList.length > 0 && (
                    <optgroup label="Labels">
                      {labelList.map((l) => {
                        const v = versionList.find((x) => x.id === l.prompt_version_id);
                        return (
                          <option key={l.name} value={`l:${l.name}`}>
                            {l.name}
                            {v ? ` (v${v.version})` : ""}
                          </option>
                        );
                      })}
                    </optgroup>
                  )}
                  <optgroup label="Versions">
                    {[...versionList].reverse().map((v) => (
                      <option key={v.id} value={`v:${v.id}`}>
                        v{v.version} · {v.status}
                        {v.notes ? ` · ${v.notes.slice(0, 40)}` : ""}
                      </option>
                    ))}
                  </optgroup>
                </select>
                <FieldError error={problem} field="target" id="pg-target-error" />
                {version && (
                  <details className="version-body">
                    <summary>Template of v{version.version}</summary>
                    {version.system && <pre className="template">{version.system}</pre>}
                    <pre className="template">{version.body}</pre>
                  </details>
                )}
                {version && (
                  <VariablesForm
                    declared={version.variables}
                    values={values}
                    onChange={(name, value) => setValues((old) => ({ ...old, [name]: value }))}
                    error={problem}
                  />
                )}
                <RetrievalFields
                  projectId={projectId}
                  variables={Object.keys(version?.variables ?? {})}
                  value={rag}
                  onChange={setRag}
                  error={problem}
                />
              </>
            ) : (
              <MessagesEditor messages={messages} onChange={setMessages} error={problem} />
            )}

            <label htmlFor="pg-model">Model or routing policy</label>
            <select
              id="pg-model"
              value={chosenModel}
              onChange={(e) => setModel(e.target.value)}
              aria-invalid={fieldInvalid(problem, "model")}
              aria-describedby="pg-model-error"
            >
              {mode === "prompt" && (
                <option value="">
                  {version?.model ? `The version's model (${version.model})` : "The version's model"}
                </option>
              )}
              <optgroup label="Models">
                {catalog.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </optgroup>
              {policies.length > 0 && (
                <optgroup label="Routing policies">
                  {policies.map((id) => (
                    <option key={id} value={id}>
                      {id}
                    </option>
                  ))}
                </optgroup>
              )}
            </select>
            <FieldError error={problem} field="model" id="pg-model-error" />

            <fieldset className="decoding">
              <legend>Decoding</legend>
              <div className="decoding-row">
                <div>
                  <label htmlFor="pg-temperature">Temperature</label>
                  <input
                    id="pg-temperature"
                    type="number"
                    inputMode="decimal"
                    step="0.1"
                    min="0"
                    max="2"
                    placeholder={String(version?.decoding?.temperature ?? "default")}
                    value={temperature}
                    onChange={(e) => setTemperature(e.target.value)}
                    aria-invalid={fieldInvalid(problem, "decoding.temperature")}
                    aria-describedby="pg-temperature-error"
                  />
                  <FieldError
                    error={problem}
                    field="decoding.temperature"
                    id="pg-temperature-error"
                  />
                </div>
                <div>
                  <label htmlFor="pg-max-tokens">Max tokens</label>
                  <input
                    id="pg-max-tokens"
                    type="number"
                    inputMode="numeric"
                    step="1"
                    min="1"
                    placeholder={String(version?.decoding?.max_tokens ?? "default")}
                    value={maxTokens}
                    onChange={(e) => setMaxTokens(e.target.value)}
                    aria-invalid={fieldInvalid(problem, "decoding.max_tokens")}
                    aria-describedby="pg-max-tokens-error"
                  />
                  <FieldError
                    error={problem}
                    field="decoding.max_tokens"
                    id="pg-max-tokens-error"
                  />
                </div>
              </div>
            </fieldset>

            <label htmlFor="pg-schema">JSON Schema (optional)</label>
            <textarea
              id="pg-schema"
              rows={4}
              className="mono"
              placeholder='{"type": "object", "properties": {"label": {"type": "string"}}}'
              value={schemaText}
              onChange={(e) => setSchemaText(e.target.value)}
              aria-invalid={fieldInvalid(problem, "schema")}
              aria-describedby="pg-schema-error pg-schema-hint"
            />
            <p id="pg-schema-hint" className="muted hint">
              The answer must satisfy it; it is shown as structured output.
              {mode === "prompt" && version?.response_format
                ? " Empty: the version's own response_format applies."
                : ""}
            </p>
            <FieldError error={problem} field="schema" id="pg-schema-error" />

            <ProblemBanner error={problem} />
            {!canRun && me.data && (
              <p className="muted">Running needs an Editor or Admin key; you can read the runs.</p>
            )}
            <div className="actions">
              <button type="submit" disabled={!canRun || streaming || !projectId}>
                {streaming ? "Running…" : "Run"}
              </button>
              {streaming && (
                <button type="button" className="secondary" onClick={run.stop}>
                  Stop
                </button>
              )}
            </div>
          </form>
          <RunOutput state={run.state} text={run.text} structured={ranWithSchema} />
        </div>
      )}
      {projectId && <RecentRuns scope={runsScope} />}
    </>
  );
}
