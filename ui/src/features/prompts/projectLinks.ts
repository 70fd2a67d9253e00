// The project page's links to a project's other pages. A feature with a page of its own for
// one project (datasets, evaluations, rollouts, settings...) adds an entry here.

export interface ProjectLink {
  label: string;
  /** The page's path for a project. */
  to: (projectId: string) => string;
}

export const PROJECT_LINKS: ProjectLink[] = [
  { label: "Playground", to: (id) => `/playground?project=${id}` },
  { label: "Datasets", to: (id) => `/projects/${id}/datasets` },
  { label: "Evaluations", to: (id) => `/projects/${id}/evaluations` },
  { label: "Retrieval", to: (id) => `/projects/${id}/retrieval` },
  { label: "Dashboard", to: (id) => `/dashboard?project=${id}` },
  { label: "Settings", to: (id) => `/projects/${id}/settings` },
];
