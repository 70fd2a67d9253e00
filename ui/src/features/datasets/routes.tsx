import { ProjectRedirect } from "../../components/ProjectSwitcher";
import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const DatasetPage = lazyPage(() => import("./DatasetPage"), "DatasetPage");
const DatasetsPage = lazyPage(() => import("./DatasetsPage"), "DatasetsPage");

export const feature: Feature = {
  name: "datasets",
  nav: [{ to: "/datasets", label: "Datasets" }],
  routes: [
    { path: "datasets", element: <ProjectRedirect page="datasets" title="Datasets" /> },
    { path: "projects/:projectId/datasets", element: <DatasetsPage /> },
    { path: "datasets/:datasetId", element: <DatasetPage /> },
  ],
};
