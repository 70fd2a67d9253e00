import { ProjectRedirect } from "../../components/ProjectSwitcher";
import type { Feature } from "../types";
import { DatasetPage } from "./DatasetPage";
import { DatasetsPage } from "./DatasetsPage";

export const feature: Feature = {
  name: "datasets",
  nav: [{ to: "/datasets", label: "Datasets" }],
  routes: [
    { path: "datasets", element: <ProjectRedirect page="datasets" title="Datasets" /> },
    { path: "projects/:projectId/datasets", element: <DatasetsPage /> },
    { path: "datasets/:datasetId", element: <DatasetPage /> },
  ],
};
