import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const NewRolloutPage = lazyPage(() => import("./NewRolloutPage"), "NewRolloutPage");
const RolloutPage = lazyPage(() => import("./RolloutPage"), "RolloutPage");
const RolloutsPage = lazyPage(() => import("./RolloutsPage"), "RolloutsPage");

export const feature: Feature = {
  name: "rollouts",
  nav: [{ to: "/rollouts", label: "Rollouts" }],
  routes: [
    { path: "rollouts", element: <RolloutsPage /> },
    { path: "rollouts/new", element: <NewRolloutPage /> },
    { path: "rollouts/:deploymentId", element: <RolloutPage /> },
  ],
};
