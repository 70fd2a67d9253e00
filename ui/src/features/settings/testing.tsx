// Test helpers of the settings and models pages: the typed API client answered by a table of
// fake routes, and a render inside the providers the app gives every page.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { vi } from "vitest";
import { api } from "../../api/client";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
/** ``init`` as the page passed it (params, body); the answer as [status, body] or a body (200). */
export type Handler = (init: { params?: unknown; body?: unknown }) => unknown;
export type FakeRoutes = Record<string, Handler>;

export interface Call {
  method: Method;
  path: string;
  params?: { path?: Record<string, unknown>; query?: Record<string, unknown> };
  body?: unknown;
}

export function me(role: "Viewer" | "Editor" | "Admin", extra: Record<string, unknown> = {}) {
  return {
    organization_id: "org-1",
    actor: `${role.toLowerCase()}@example.com`,
    role,
    user_id: "user-1",
    project_id: null,
    api_key_id: "key-self",
    temporal_ui_url: "http://temporal.test",
    temporal_namespace: "default",
    ...extra,
  };
}

/** Answer ``api.GET/POST/...`` from ``routes`` keyed "METHOD /api/v1/path/{param}"; an
 * unknown route answers 404. Returns the calls made, in order. */
export function fakeApi(routes: FakeRoutes): Call[] {
  const calls: Call[] = [];
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"] as Method[]) {
    vi.spyOn(api, method).mockImplementation((async (path: string, init?: Call) => {
      calls.push({ method, path, params: init?.params, body: init?.body });
      const handler = routes[`${method} ${path}`];
      const answer = handler ? handler(init ?? {}) : [404, { detail: `no fake for ${path}` }];
      const [status, body] =
        Array.isArray(answer) && typeof answer[0] === "number" ? answer : [200, answer];
      const response = new Response(JSON.stringify(body), { status: status as number });
      return status >= 400 ? { error: body, response } : { data: body, response };
    }) as never);
  }
  return calls;
}

/** Render ``element`` at ``path`` (matched by ``pattern``) with a fresh query cache. */
export function renderPage(element: ReactElement, path = "/", pattern = "*") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path={pattern} element={element} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}
