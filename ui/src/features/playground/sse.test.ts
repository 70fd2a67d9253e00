import { describe, expect, it } from "vitest";
import { readSse, type SseEvent } from "./sse";

/** A body that delivers `chunks` one read at a time (strings are UTF-8 encoded; arrays of
 * bytes pass as they are, so a chunk can end inside a multi-byte character). */
function body(chunks: (string | number[])[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i === chunks.length) {
        controller.close();
        return;
      }
      const chunk = chunks[i++];
      controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk));
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of readSse(stream)) events.push(event);
  return events;
}

describe("readSse", () => {
  it("reads the API's delta and done events", async () => {
    const events = await collect(
      body([
        'event: delta\ndata: {"text": "Hel"}\n\n',
        'event: delta\ndata: {"text": "lo"}\n\nevent: done\ndata: {"run_id": "r"}\n\n',
      ]),
    );
    expect(events).toEqual([
      { event: "delta", data: '{"text": "Hel"}' },
      { event: "delta", data: '{"text": "lo"}' },
      { event: "done", data: '{"run_id": "r"}' },
    ]);
  });

  it("joins an event split anywhere across chunks", async () => {
    const text = 'event: delta\ndata: {"text": "abc"}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const events = await collect(body([text.slice(0, cut), text.slice(cut)]));
      expect(events).toEqual([{ event: "delta", data: '{"text": "abc"}' }]);
    }
  });

  it("keeps a multi-byte character split between chunks", async () => {
    const bytes = Array.from(new TextEncoder().encode("data: é€\n\n"));
    // "é" is two bytes at 6..7: cut between them.
    const events = await collect(body([bytes.slice(0, 7), bytes.slice(7)]));
    expect(events).toEqual([{ event: "message", data: "é€" }]);
  });

  it("accepts CRLF and CR line ends, including a CRLF split between chunks", async () => {
    const events = await collect(
      body(["event: a\r\ndata: 1\r", "\n\r\n", "data: 2\r\rdata: 3\n\n"]),
    );
    expect(events).toEqual([
      { event: "a", data: "1" },
      { event: "message", data: "2" },
      { event: "message", data: "3" },
    ]);
  });

  it("joins data lines, drops comments, blocks without data and an unfinished tail", async () => {
    const events = await collect(
      body([": keep-alive\n\nevent: x\n\ndata: one\ndata:two\n\n", "data: never ended"]),
    );
    expect(events).toEqual([{ event: "message", data: "one\ntwo" }]);
  });

  it("reads OpenAI chunks and the [DONE] marker", async () => {
    const events = await collect(body(['data: {"choices": []}\n\ndata: [DONE]\n\n']));
    expect(events.map((e) => e.data)).toEqual(['{"choices": []}', "[DONE]"]);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("event: error\ndata: {}\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readSse(stream)) {
      expect(event.event).toBe("error");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
