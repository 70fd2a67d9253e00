import type { ReactElement } from "react";

/** A feature of the app: its routes (paths relative to the app root, e.g.
 * "prompts/:promptId") and its entries in the main navigation. */
export interface Feature {
  name: string;
  nav: { to: string; label: string }[];
  routes: { path: string; element: ReactElement }[];
}
