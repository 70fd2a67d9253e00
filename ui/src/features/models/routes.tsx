import type { Feature } from "../types";
import { ModelsPage } from "./ModelsPage";

export const feature: Feature = {
  name: "models",
  nav: [{ to: "/models", label: "Models" }],
  routes: [{ path: "models", element: <ModelsPage /> }],
};
