// The playground's two streamed calls, read with fetch + ReadableStream:
// - a prompt version or label: POST /api/v1/generate with stream: true (SSE `delta` events,
//   then `done` with the run result, or `error`);
// - free text: POST /v1/chat/completions with stream: true (OpenAI chunks, the usage chunk
//   with PromptOps' extras, `data: [DONE]`; the project in the OpenAI-Project header).
// Both end in one StreamOutcome; a refusal before the stream starts (4xx) is thrown as an
// ApiProblem with the fields the API named, so the form can show them next to the fields.
import { authHeaders } from "../../api/client";
import { toProblem, type ApiProblem } from "../../api/errors";
import type { components } from "../../api/schema";
import { signOut } from "../../auth/session";
import { readSse } from "./sse";

export type GenerateBody = components["schemas"]["GenerateRequest"];
export type ChatBody = components["schemas"]["ChatCompletionRequest"];
type RunResult = components["schemas"]["RunResult"];

export interface StreamDone {
  kind: "done";
  runId: string;
  model: string;
  /** The answer: text, or the parsed JSON the schema asked for (generate). */
  output: unknown;
  promptTokens: number | null;
  completionTokens: number | null;
  costUsd: number | null;
  latencyMs: number | null;
  cacheHit: boolean;
  /** A RAG call's retrieval (sources given, citations checked); see Citations.tsx. */
  retrieval?: unknown;
}

export interface StreamFailed {
  kind: "error";
  status: number | null;
  message: string;
  /** Set when the failure was recorded as a run (e.g. a schema never met). */
  runId: string | null;
}

export type StreamOutcome = StreamDone | StreamFailed;

export interface StreamOptions {
  onDelta: (text: string) => void;
  signal?: AbortSignal;
}

const CUT_SHORT = "The stream ended before the answer was complete.";

/** An error body of either shape as an ApiProblem: FastAPI's `detail` (handled by
 * toProblem), or OpenAI's `{"error": {"message", "param"}}` with `param` as the field. */
export function problemFromBody(body: unknown, status: number): ApiProblem {
  const problem = toProblem(body, status);
  const openai = (body as { error?: { message?: unknown; param?: unknown } } | null)?.error;
  if (openai && typeof openai.param === "string" && typeof openai.message === "string") {
    problem.fields[openai.param] = openai.message;
  }
  return problem;
}

async function post(url: string, body: unknown, extra: Record<string, string>, signal?: AbortSignal) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      ...authHeaders(),
      ...extra,
      "Content-Type": "application/json",
      Accept: "text/event-stream",
    },
    body: JSON.stringify(body),
    signal,
  });
  if (response.status === 401) signOut("Your API key is no longer valid. Sign in again.");
  if (!response.ok || !response.body) {
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text || `Request failed (HTTP ${response.status})` };
    }
    throw problemFromBody(parsed, response.status);
  }
  return response.body;
}

/** Stream `generate` for a prompt version or label. */
export async function streamGenerate(
  body: GenerateBody,
  { onDelta, signal }: StreamOptions,
): Promise<StreamOutcome> {
  const stream = await post("/api/v1/generate", { ...body, stream: true }, {}, signal);
  for await (const event of readSse(stream)) {
    if (event.event === "delta") {
      onDelta((JSON.parse(event.data) as { text: string }).text);
    } else if (event.event === "done") {
      const result = JSON.parse(event.data) as RunResult;
      return {
        kind: "done",
        runId: result.run_id,
        model: result.model,
        output: result.output,
        promptTokens: result.metrics.tokens.prompt,
        completionTokens: result.metrics.tokens.completion,
        costUsd: result.metrics.cost_usd,
        latencyMs: result.metrics.latency_ms,
        cacheHit: result.cache_hit ?? false,
        ...(result.retrieval ? { retrieval: result.retrieval } : {}),
      };
    } else if (event.event === "error") {
      const error = JSON.parse(event.data) as {
        status?: number;
        message?: string;
        run_id?: string;
      };
      return {
        kind: "error",
        status: error.status ?? null,
        message: error.message ?? "The model call failed.",
        runId: error.run_id ?? null,
      };
    }
  }
  return { kind: "error", status: null, message: CUT_SHORT, runId: null };
}

interface Chunk {
  model?: string;
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  promptops?: { run_id?: string; cost_usd?: number; latency_ms?: number; cache_hit?: boolean };
  error?: { message?: string; code?: number | null };
}

/** Stream a free-text chat completion in project `projectId`. */
export async function streamChat(
  body: ChatBody,
  projectId: string,
  { onDelta, signal }: StreamOptions,
): Promise<StreamOutcome> {
  const stream = await post(
    "/v1/chat/completions",
    { ...body, stream: true, stream_options: { include_usage: true } },
    { "OpenAI-Project": projectId },
    signal,
  );
  let text = "";
  let model = body.model;
  let usage: Chunk["usage"];
  let extras: Chunk["promptops"];
  for await (const event of readSse(stream)) {
    if (event.data === "[DONE]") {
      return {
        kind: "done",
        runId: extras?.run_id ?? "",
        model,
        output: text,
        promptTokens: usage?.prompt_tokens ?? null,
        completionTokens: usage?.completion_tokens ?? null,
        costUsd: extras?.cost_usd ?? null,
        latencyMs: extras?.latency_ms ?? null,
        cacheHit: extras?.cache_hit ?? false,
      };
    }
    const chunk = JSON.parse(event.data) as Chunk;
    if (chunk.error) {
      return {
        kind: "error",
        status: chunk.error.code ?? null,
        message: chunk.error.message ?? "The model call failed.",
        runId: null,
      };
    }
    if (chunk.model) model = chunk.model;
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) {
      text += delta;
      onDelta(delta);
    }
    if (chunk.usage) usage = chunk.usage;
    if (chunk.promptops) extras = chunk.promptops;
  }
  return { kind: "error", status: null, message: CUT_SHORT, runId: null };
}
