import type { Feature } from "../types";
import { ProjectSettingsPage } from "./project/ProjectSettingsPage";
import { SettingsPage } from "./SettingsPage";

export const feature: Feature = {
  name: "settings",
  nav: [{ to: "/settings", label: "Settings" }],
  routes: [
    { path: "settings/*", element: <SettingsPage /> },
    { path: "projects/:projectId/settings/*", element: <ProjectSettingsPage /> },
  ],
};
