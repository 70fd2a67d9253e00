// The project page's links to a project's other pages. A feature with a page of its own for
// one project (datasets, evaluations, rollouts, settings...) adds an entry here.

export interface ProjectLink {
  label: string;
  /** The page's path for a project. */
  to: (projectId: string) => string;
}

export const PROJECT_LINKS: ProjectLink[] = [];
