import type { Feature } from "../types";
import { ProjectsPage } from "./ProjectsPage";

export const feature: Feature = {
  name: "projects",
  nav: [{ to: "/", label: "Projects" }],
  routes: [{ path: "", element: <ProjectsPage /> }],
};
