import type { Feature } from "../types";
import { chunkRoute } from "./chunkRoute";

export const feature: Feature = {
  name: "retrieval",
  nav: [],
  routes: [chunkRoute],
};
