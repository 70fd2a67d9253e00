// Every feature's pages and navigation entries, in navigation order. A feature lives in
// src/features/<name>/ and exports its `feature` (routes.tsx): add one import and one entry
// here.
import type { Feature } from "./types";
import { feature as approvals } from "./approvals/routes";
import { feature as dashboard } from "./dashboard/routes";
import { feature as datasets } from "./datasets/routes";
import { feature as evaluations } from "./evaluations/routes";
import { feature as models } from "./models/routes";
import { feature as playground } from "./playground/routes";
import { feature as projects } from "./projects/routes";
import { feature as prompts } from "./prompts/routes";
import { feature as retrieval } from "./retrieval/routes";
import { feature as rollouts } from "./rollouts/routes";
import { feature as settings } from "./settings/routes";

export const FEATURES: Feature[] = [
  projects,
  dashboard,
  prompts,
  playground,
  datasets,
  evaluations,
  retrieval,
  approvals,
  rollouts,
  models,
  settings,
];
