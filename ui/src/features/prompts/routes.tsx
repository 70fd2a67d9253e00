import { Suspense, lazy } from "react";
import { Loading } from "../../components/Loading";
import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const ProjectPage = lazyPage(() => import("./ProjectPage"), "ProjectPage");
const PromptPage = lazyPage(() => import("./PromptPage"), "PromptPage");

// The editor carries Monaco: its own chunk, loaded when the editor opens.
const PromptEditorPage = lazy(() => import("./PromptEditorPage"));

export const feature: Feature = {
  name: "prompts",
  nav: [],
  routes: [
    { path: "projects/:projectId", element: <ProjectPage /> },
    { path: "prompts/:promptId", element: <PromptPage /> },
    {
      path: "prompts/:promptId/versions/new",
      element: (
        <Suspense fallback={<Loading what="Loading the editor" />}>
          <PromptEditorPage />
        </Suspense>
      ),
    },
  ],
};
