import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const ModelsPage = lazyPage(() => import("./ModelsPage"), "ModelsPage");

export const feature: Feature = {
  name: "models",
  nav: [{ to: "/models", label: "Models" }],
  routes: [{ path: "models", element: <ModelsPage /> }],
};
