import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useParams } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { json, mockApi, renderPage, unmockApi } from "../../test/renderPage";
import { ProjectRedirect } from "../../components/ProjectSwitcher";
import { ProjectPage } from "./ProjectPage";

const SLOW = { timeout: 60_000 };
const empty = { data: [], count: 0, limit: 50, offset: 0 };
const projects = [
  { id: "p-1", name: "first", description: null },
  { id: "p-2", name: "second", description: null },
];

function Landed() {
  return <p>datasets of {useParams().projectId}</p>;
}

beforeEach(() => localStorage.clear());
afterEach(() => unmockApi());

describe("ProjectPage", SLOW, () => {
  it("is remembered, so the navigation's project pages open on it next", async () => {
    mockApi({
      "GET /api/v1/me": () => json({ role: "Admin", org_id: "o", email: "a@b.c" }),
      "GET /api/v1/projects/p-2": () => json(projects[1]),
      "GET /api/v1/projects/p-2/prompts": () => json(empty),
      "GET /api/v1/projects/p-2/protected_labels": () => json(empty),
      "GET /api/v1/projects": () => json({ ...empty, data: projects, count: 2 }),
    });
    const page = renderPage(<ProjectPage />, {
      path: "/projects/:projectId",
      url: "/projects/p-2",
    });
    expect(await screen.findByRole("heading", { name: "second" })).toBeInTheDocument();
    page.unmount();

    render(
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter initialEntries={["/datasets"]}>
          <Routes>
            <Route path="/datasets" element={<ProjectRedirect page="datasets" title="Datasets" />} />
            <Route path="/projects/:projectId/datasets" element={<Landed />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    expect(await screen.findByText("datasets of p-2")).toBeInTheDocument();
  });
});
