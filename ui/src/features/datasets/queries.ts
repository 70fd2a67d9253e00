import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";

/** The datasets of a project (`GET /datasets?project_id=`), with their example counts. */
export function useDatasets(projectId: string) {
  return useQuery({
    queryKey: ["datasets", projectId],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/datasets", { params: { query: { project_id: projectId } } })),
  });
}
