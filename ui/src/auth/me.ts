import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import { unwrap } from "../api/errors";

export type Role = "Viewer" | "Editor" | "Admin";
const RANK: Record<Role, number> = { Viewer: 0, Editor: 1, Admin: 2 };

/** The signed-in caller (``GET /api/v1/me``). */
export function useMe() {
  return useQuery({
    queryKey: ["me"],
    queryFn: async () => unwrap(await api.GET("/api/v1/me")),
    staleTime: 60_000,
  });
}

/** Whether ``role`` is at least ``needed`` (Viewer < Editor < Admin). */
export function atLeast(role: string | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role as Role] >= RANK[needed];
}
