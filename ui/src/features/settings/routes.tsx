import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const ProjectSettingsPage = lazyPage(
  () => import("./project/ProjectSettingsPage"),
  "ProjectSettingsPage",
);
const SettingsPage = lazyPage(() => import("./SettingsPage"), "SettingsPage");

export const feature: Feature = {
  name: "settings",
  nav: [{ to: "/settings", label: "Settings" }],
  routes: [
    { path: "settings/*", element: <SettingsPage /> },
    { path: "projects/:projectId/settings/*", element: <ProjectSettingsPage /> },
  ],
};
