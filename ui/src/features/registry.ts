// Every feature's pages and navigation entries, in navigation order. A feature lives in
// src/features/<name>/ and exports its `feature` (routes.tsx): add one import and one entry
// here.
import type { Feature } from "./types";
import { feature as models } from "./models/routes";
import { feature as projects } from "./projects/routes";
import { feature as settings } from "./settings/routes";

export const FEATURES: Feature[] = [projects, models, settings];
