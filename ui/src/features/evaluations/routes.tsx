import { ProjectRedirect } from "../../components/ProjectSwitcher";
import type { Feature } from "../types";
import { EvaluationPage } from "./EvaluationPage";
import { EvaluationsPage } from "./EvaluationsPage";

export const feature: Feature = {
  name: "evaluations",
  nav: [{ to: "/evaluations", label: "Evaluations" }],
  routes: [
    { path: "evaluations", element: <ProjectRedirect page="evaluations" title="Evaluations" /> },
    { path: "projects/:projectId/evaluations", element: <EvaluationsPage /> },
    { path: "evaluations/:evalId", element: <EvaluationPage /> },
  ],
};
