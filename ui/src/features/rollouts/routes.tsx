import type { Feature } from "../types";
import { NewRolloutPage } from "./NewRolloutPage";
import { RolloutPage } from "./RolloutPage";
import { RolloutsPage } from "./RolloutsPage";

export const feature: Feature = {
  name: "rollouts",
  nav: [{ to: "/rollouts", label: "Rollouts" }],
  routes: [
    { path: "rollouts", element: <RolloutsPage /> },
    { path: "rollouts/new", element: <NewRolloutPage /> },
    { path: "rollouts/:deploymentId", element: <RolloutPage /> },
  ],
};
