// The reads the prompt pages share (one cache key each, so pages reuse each other's data).
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";

export function useProject(projectId: string | undefined) {
  return useQuery({
    queryKey: ["project", projectId],
    enabled: projectId !== undefined,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/projects/{project_id}", {
          params: { path: { project_id: projectId! } },
        }),
      ),
  });
}

export function usePrompt(promptId: string) {
  return useQuery({
    queryKey: ["prompt", promptId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}", {
          params: { path: { prompt_id: promptId } },
        }),
      ),
  });
}

export function useVersions(promptId: string) {
  return useQuery({
    queryKey: ["versions", promptId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/versions", {
          params: { path: { prompt_id: promptId } },
        }),
      ),
  });
}
