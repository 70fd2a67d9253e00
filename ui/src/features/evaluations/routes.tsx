import { ProjectRedirect } from "../../components/ProjectSwitcher";
import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const EvaluationPage = lazyPage(() => import("./EvaluationPage"), "EvaluationPage");
const EvaluationsPage = lazyPage(() => import("./EvaluationsPage"), "EvaluationsPage");

export const feature: Feature = {
  name: "evaluations",
  nav: [{ to: "/evaluations", label: "Evaluations" }],
  routes: [
    { path: "evaluations", element: <ProjectRedirect page="evaluations" title="Evaluations" /> },
    { path: "projects/:projectId/evaluations", element: <EvaluationsPage /> },
    { path: "evaluations/:evalId", element: <EvaluationPage /> },
  ],
};
