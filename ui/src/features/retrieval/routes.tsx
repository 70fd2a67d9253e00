import { ProjectRedirect } from "../../components/ProjectSwitcher";
import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";
import { chunkRoute } from "./chunkRoute";

const IndexesPage = lazyPage(() => import("./IndexesPage"), "IndexesPage");
const IndexPage = lazyPage(() => import("./IndexPage"), "IndexPage");
const QueryPage = lazyPage(() => import("./QueryPage"), "QueryPage");

export const feature: Feature = {
  name: "retrieval",
  nav: [{ to: "/retrieval", label: "Retrieval" }],
  routes: [
    { path: "retrieval", element: <ProjectRedirect page="retrieval" title="Retrieval" /> },
    { path: "projects/:projectId/retrieval", element: <IndexesPage /> },
    { path: "retrieval/indexes/:indexId", element: <IndexPage /> },
    { path: "retrieval/query", element: <QueryPage /> },
    chunkRoute,
  ],
};
