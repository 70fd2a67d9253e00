import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";

export type Index = components["schemas"]["IndexPublic"];
export type Source = components["schemas"]["SourcePublic"];
export type Ingestion = components["schemas"]["IngestionPublic"];
export type Hit = components["schemas"]["HitPublic"];
export type QueryResult = components["schemas"]["QueryResult"];
export type QueryRequest = components["schemas"]["QueryRequest"];
export type Mode = "dense" | "keyword" | "hybrid";

export const MODES: Mode[] = ["dense", "keyword", "hybrid"];

/** The embedding models an index can name (`GET /retrieval/embedding_models`). */
export function useEmbeddingModels() {
  return useQuery({
    queryKey: ["embedding-models"],
    queryFn: async () => unwrap(await api.GET("/api/v1/retrieval/embedding_models")),
    staleTime: 5 * 60_000,
  });
}

/** The indexes of a project (all the caller's without one), with their counts. */
export function useIndexes(projectId?: string) {
  return useQuery({
    queryKey: ["retrieval-indexes", projectId ?? null],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes", {
          params: { query: projectId ? { project_id: projectId } : {} },
        }),
      ),
  });
}

/** One index with its counts and sources. */
export function useIndex(indexId: string) {
  return useQuery({
    queryKey: ["retrieval-index", indexId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes/{index_id}", {
          params: { path: { index_id: indexId } },
        }),
      ),
    enabled: indexId !== "",
  });
}

/** Whether an ingestion's status is final (the workflow no longer runs). */
export function ingestionFinished(status: string): boolean {
  return !["Listing", "Ingesting", "Finishing"].includes(status);
}

/** The chunk page of a hit or citation. */
export function chunkPath(indexId: string, chunkId: string): string {
  return `/retrieval/indexes/${indexId}/chunks/${chunkId}`;
}

/** `source#anchor` as people read a citation target. */
export function sourceWithAnchor(source: string, anchor: string | null | undefined): string {
  return anchor ? `${source}#${anchor}` : source;
}
