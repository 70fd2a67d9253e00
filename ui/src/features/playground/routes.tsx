import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const PlaygroundPage = lazyPage(() => import("./PlaygroundPage"), "PlaygroundPage");
const RunDetailPage = lazyPage(() => import("./RunDetailPage"), "RunDetailPage");

export const feature: Feature = {
  name: "playground",
  nav: [{ to: "/playground", label: "Playground" }],
  routes: [
    { path: "playground", element: <PlaygroundPage /> },
    { path: "playground/runs/:runId", element: <RunDetailPage /> },
  ],
};
