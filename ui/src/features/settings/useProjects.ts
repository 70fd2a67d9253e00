import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";

/** The projects the caller can see (one for a project-scoped key), for selects and names. */
export function useProjects() {
  return useQuery({
    queryKey: ["projects"],
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
}

/** A project's name from the list, else its id (a project the caller cannot see). */
export function projectName(
  projects: { data: { id: string; name: string }[] } | undefined,
  id: string | null | undefined,
): string {
  if (!id) return "";
  return projects?.data.find((p) => p.id === id)?.name ?? id;
}
