import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeApi, renderPage } from "../settings/testing";
import { ModelsPage } from "./ModelsPage";

afterEach(() => vi.restoreAllMocks());

describe("ModelsPage", () => {
  it("shows each deployment's health, breaker, latency, error rate and last check", async () => {
    fakeApi({
      "GET /api/v1/models/providers": () => ({
        data: [
          {
            model_name: "smollm2-135m",
            provider: "openai",
            breaker_state: "closed",
            health: "healthy",
            calls: 40,
            errors: 2,
            error_rate: 0.05,
            p50_latency_ms: 120.4,
            p95_latency_ms: 480.9,
            last_error: null,
            last_error_status: null,
            last_error_at: null,
            last_check: {
              ok: true,
              checked_at: "2026-12-01T10:00:00Z",
              latency_ms: 74,
              status_code: 200,
              error: null,
            },
          },
          {
            model_name: "remote",
            provider: "anthropic",
            breaker_state: "open",
            health: "down",
            calls: 5,
            errors: 5,
            error_rate: 1,
            p50_latency_ms: null,
            p95_latency_ms: null,
            last_error: "upstream timed out",
            last_error_status: 504,
            last_error_at: "2026-12-01T10:01:00Z",
            last_check: null,
          },
        ],
        count: 2,
      }),
    });
    renderPage(<ModelsPage />);
    const local = (await screen.findByText("smollm2-135m")).closest("tr") as HTMLElement;
    for (const text of [
      "openai",
      "healthy",
      "closed",
      "120 ms",
      "481 ms",
      "5%",
      "(2 of 40 calls)",
      "passed",
    ]) {
      expect(local).toHaveTextContent(text);
    }
    const remote = within(screen.getByText("remote").closest("tr") as HTMLElement);
    expect(remote.getByText("open (skipped)")).toBeInTheDocument();
    expect(remote.getByText("down")).toBeInTheDocument();
    expect(remote.getByText("not yet run")).toBeInTheDocument();
    expect(remote.getByText(/HTTP 504: upstream timed out/)).toBeInTheDocument();
    expect(screen.getByLabelText(/Refresh every/)).toBeChecked();
  });
});
