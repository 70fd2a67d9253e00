import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { MetricInfo } from "./summary";

/** The metric registry (`GET /evals/metrics`), by name; it changes only with a release. */
export function useMetricRegistry() {
  return useQuery({
    queryKey: ["eval-metrics"],
    queryFn: async () => unwrap(await api.GET("/api/v1/evals/metrics")),
    staleTime: Infinity,
    select: (page) => ({
      list: page.data as MetricInfo[],
      byName: Object.fromEntries(page.data.map((m) => [m.name, m as MetricInfo])),
    }),
  });
}
