import type { Feature } from "../types";
import { PlaygroundPage } from "./PlaygroundPage";
import { RunDetailPage } from "./RunDetailPage";

export const feature: Feature = {
  name: "playground",
  nav: [{ to: "/playground", label: "Playground" }],
  routes: [
    { path: "playground", element: <PlaygroundPage /> },
    { path: "playground/runs/:runId", element: <RunDetailPage /> },
  ],
};
