// The API client: openapi-fetch over the types generated from the API's OpenAPI document
// (src/api/schema.d.ts, `npm run gen:api`), so every call is typed by the API itself.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { getKey, signOut } from "../auth/session";

const auth: Middleware = {
  onRequest({ request }) {
    const key = getKey();
    if (key) request.headers.set("Authorization", `Bearer ${key}`);
    return request;
  },
  onResponse({ response }) {
    // An expired or revoked key: back to sign-in.
    if (response.status === 401) signOut("Your API key is no longer valid. Sign in again.");
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

/** The Authorization header of raw fetches (streams, uploads). */
export function authHeaders(): Record<string, string> {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}
