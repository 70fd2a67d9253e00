import type { Feature } from "../types";
import { DashboardPage } from "./DashboardPage";

export const feature: Feature = {
  name: "dashboard",
  nav: [{ to: "/dashboard", label: "Dashboard" }],
  routes: [{ path: "dashboard", element: <DashboardPage /> }],
};
