import { lazy, type ComponentType } from "react";

/** A page loaded when its route is first visited (a chunk of its own, so the first load of the
 * app carries only the shell and the sign-in page): `lazyPage(() => import("./XPage"), "XPage")`.
 * The Shell's Suspense shows "Loading the page…" meanwhile. */
export function lazyPage<K extends string>(
  load: () => Promise<Record<K, ComponentType>>,
  name: K,
) {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}
