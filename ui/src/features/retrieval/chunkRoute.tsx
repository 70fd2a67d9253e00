import { lazyPage } from "../lazyPage";

const ChunkPage = lazyPage(() => import("./ChunkPage"), "ChunkPage");

/** The page of one chunk (what a citation points at), reached from a run's sources and
 * citations and from the index's pages. */
export const chunkRoute = {
  path: "retrieval/indexes/:indexId/chunks/:chunkId",
  element: <ChunkPage />,
};
