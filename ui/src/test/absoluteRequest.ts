// The app calls its own origin ("/api/v1/..."); Node's Request, which the typed client
// builds (it takes `globalThis.Request` when it is created), needs an absolute URL. Paths
// are resolved against the test page's location. Imported by renderPage before the client.
const NodeRequest = globalThis.Request;

globalThis.Request = class extends NodeRequest {
  constructor(input: RequestInfo | URL, init?: RequestInit) {
    super(
      typeof input === "string" && input.startsWith("/") ? new URL(input, location.href) : input,
      init,
    );
  }
};
