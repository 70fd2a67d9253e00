import type { components } from "../../api/schema";

export type Version = components["schemas"]["PromptVersionPublic"];
export type Label = components["schemas"]["LabelPublic"];

/** "v3" */
export function vname(version: number): string {
  return `v${version}`;
}
