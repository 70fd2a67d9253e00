// Stream timings for the playground benchmark (tests/benchmarks/bench_playground_first_token.py).
// Off unless the page defines `window.__promptopsStreamTimings = []` before the app loads;
// then each streamed delta is recorded with when it was parsed, when React committed it to
// the DOM and when the frame that paints it began (epoch milliseconds:
// performance.timeOrigin + performance.now(), comparable with the server's clock).

export interface DeltaTiming {
  /** 1-based position of the delta in its stream. */
  seq: number;
  text: string;
  /** Parsed from the SSE body. */
  received: number;
  /** In the DOM (React's layout effect after the commit that shows it). */
  rendered?: number;
  /** The start of the animation frame after that commit (the paint that shows it). */
  frame?: number;
}

declare global {
  interface Window {
    __promptopsStreamTimings?: DeltaTiming[];
  }
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Record a delta as it is parsed (no-op unless the hook is on). */
export function noteDelta(seq: number, text: string): void {
  window.__promptopsStreamTimings?.push({ seq, text, received: now() });
}

/** Record that every delta up to `seq` is in the DOM (no-op unless the hook is on). */
export function noteRendered(seq: number): void {
  const timings = window.__promptopsStreamTimings;
  if (!timings) return;
  const at = now();
  const fresh = timings.filter((t) => t.rendered === undefined && t.seq <= seq);
  for (const t of fresh) t.rendered = at;
  requestAnimationFrame(() => {
    const frame = now();
    for (const t of fresh) t.frame = frame;
  });
}
