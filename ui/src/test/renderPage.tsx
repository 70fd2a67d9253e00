// Test helpers: render a page inside the providers the app gives it, and answer its API
// calls from a table of routes (a middleware of the typed client answers instead of the
// network; every call is recorded). Import this module before the components under test.
import "./absoluteRequest";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { configure, render } from "@testing-library/react";
import type { Middleware } from "openapi-fetch";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { api } from "../api/client";

// findBy*/waitFor wait for what the page shows, not against a clock: the default 1 s fails
// when the machine is busy (2 cores shared by several builds).
configure({ asyncUtilTimeout: 30_000 });

export function renderPage(element: ReactElement, { path = "/", url = "/" } = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Routes>
          <Route path={path} element={element} />
          <Route path="*" element={<p>elsewhere</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export interface Call {
  method: string;
  url: URL;
  request: Request;
}

let installed: Middleware | null = null;

/** Answer the typed client's calls: `"GET /api/v1/evals/metrics"` -> answer (the path
 * without the query). Unrouted calls get a 404. */
export function mockApi(routes: Record<string, (call: Call) => Response | Promise<Response>>) {
  unmockApi();
  const calls: Call[] = [];
  installed = {
    async onRequest({ request }) {
      const url = new URL(request.url, "http://localhost");
      const call = { method: request.method, url, request: request.clone() };
      calls.push(call);
      const route = routes[`${request.method} ${url.pathname}`];
      if (!route) return json({ detail: `no route for ${request.method} ${url.pathname}` }, 404);
      return route(call);
    },
  };
  api.use(installed);
  return calls;
}

export function unmockApi(): void {
  if (installed) api.eject(installed);
  installed = null;
}
