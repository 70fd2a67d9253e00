import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import type { components } from "../api/schema";
import { ProblemBanner } from "./Problem";

export type PromptVersion = components["schemas"]["PromptVersionPublic"];

/** Pick a prompt version: project, then prompt, then version (newest first). ``value`` may
 * arrive from the address (``?version=``): its prompt and project are selected for it.
 * Versions whose status is not in ``statuses`` are listed but cannot be picked. */
export function VersionPicker({
  idPrefix,
  value,
  onChange,
  statuses,
  invalid,
  describedBy,
}: {
  idPrefix: string;
  value: string;
  onChange: (versionId: string, version: PromptVersion | null, projectId: string) => void;
  statuses?: string[];
  invalid?: boolean;
  describedBy?: string;
}) {
  const [projectId, setProjectId] = useState("");
  const [promptId, setPromptId] = useState("");

  // A version given up front: find its prompt, then the prompt's project.
  const preset = useQuery({
    queryKey: ["version-and-prompt", value],
    enabled: Boolean(value) && !promptId,
    queryFn: async () => {
      const version = unwrap(
        await api.GET("/api/v1/prompt_versions/{version_id}", {
          params: { path: { version_id: value } },
        }),
      );
      const prompt = unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}", {
          params: { path: { prompt_id: version.prompt_id } },
        }),
      );
      return { version, prompt };
    },
  });
  useEffect(() => {
    if (preset.data && !promptId) {
      setProjectId(preset.data.prompt.project_id);
      setPromptId(preset.data.prompt.id);
    }
  }, [preset.data, promptId]);

  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
  const prompts = useQuery({
    queryKey: ["prompts", projectId],
    enabled: Boolean(projectId),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}/prompts", {
          params: { path: { project_id: projectId } },
        }),
      ),
  });
  const versions = useQuery({
    queryKey: ["versions", promptId],
    enabled: Boolean(promptId),
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/versions", {
          params: { path: { prompt_id: promptId } },
        }),
      ),
  });
  const newestFirst = [...(versions.data?.data ?? [])].sort((a, b) => b.version - a.version);

  // Once the versions are known, report the chosen one (with its content) to the form; once
  // per load, so the form's own state is not overwritten as it re-renders.
  useEffect(() => {
    if (!value) return;
    const found = versions.data?.data.find((v) => v.id === value);
    if (found) onChange(found.id, found, projectId);
  }, [versions.data, value]);

  const pickable = (v: PromptVersion) => !statuses || statuses.includes(v.status);

  return (
    <fieldset className="version-picker">
      <legend>Prompt version</legend>
      <ProblemBanner error={preset.error ?? projects.error ?? prompts.error ?? versions.error} />
      <label htmlFor={`${idPrefix}-project`}>Project</label>
      <select
        id={`${idPrefix}-project`}
        value={projectId}
        onChange={(e) => {
          setProjectId(e.target.value);
          setPromptId("");
          onChange("", null, e.target.value);
        }}
      >
        <option value="">Choose a project…</option>
        {projects.data?.data.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      <label htmlFor={`${idPrefix}-prompt`}>Prompt</label>
      <select
        id={`${idPrefix}-prompt`}
        value={promptId}
        disabled={!projectId}
        onChange={(e) => {
          setPromptId(e.target.value);
          onChange("", null, projectId);
        }}
      >
        <option value="">Choose a prompt…</option>
        {prompts.data?.data.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      <label htmlFor={`${idPrefix}-version`}>Version</label>
      <select
        id={`${idPrefix}-version`}
        value={value}
        disabled={!promptId}
        aria-invalid={invalid}
        aria-describedby={describedBy}
        onChange={(e) =>
          onChange(
            e.target.value,
            newestFirst.find((v) => v.id === e.target.value) ?? null,
            projectId,
          )
        }
      >
        <option value="">Choose a version…</option>
        {newestFirst.map((v) => (
          <option key={v.id} value={v.id} disabled={!pickable(v)}>
            v{v.version} · {v.status}
            {v.notes ? ` · ${v.notes.slice(0, 60)}` : ""}
          </option>
        ))}
      </select>
      {statuses && (
        <p className="muted hint">Only {statuses.join(" or ")} versions can be chosen here.</p>
      )}
    </fieldset>
  );
}
