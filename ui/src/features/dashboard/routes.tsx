import { lazyPage } from "../lazyPage";
import type { Feature } from "../types";

const DashboardPage = lazyPage(() => import("./DashboardPage"), "DashboardPage");

export const feature: Feature = {
  name: "dashboard",
  nav: [{ to: "/dashboard", label: "Dashboard" }],
  routes: [{ path: "dashboard", element: <DashboardPage /> }],
};
