// Server-Sent Events read from a fetch body (WHATWG HTML, "Server-sent events", the event
// stream interpretation): EventSource cannot send an Authorization header or a POST body, so
// the playground reads the stream itself.

export interface SseEvent {
  /** The `event:` field ("message" when absent). */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

/** Parse one event block (the lines between blank lines); null when it carries no data
 * (comments only, or fields without `data:`), which the spec says not to dispatch. */
function parseBlock(block: string): SseEvent | null {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/** The events of an SSE body as they arrive. Line ends may be CRLF, LF or CR; a chunk may
 * end anywhere (inside a line, a multi-byte character or a CRLF). An unfinished event at the
 * end of the stream is dropped, as EventSource does. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
      const keep = buffer.endsWith("\r") ? 1 : 0;
      const ready = buffer.slice(0, buffer.length - keep).replace(/\r\n?/g, "\n");
      const end = ready.lastIndexOf("\n\n");
      if (end === -1) {
        buffer = ready + buffer.slice(buffer.length - keep);
        continue;
      }
      buffer = ready.slice(end + 2) + buffer.slice(buffer.length - keep);
      for (const block of ready.slice(0, end).split("\n\n")) {
        const event = parseBlock(block);
        if (event) yield event;
      }
    }
  } finally {
    // A reader that stops early (an error event, the user's Stop) closes the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
