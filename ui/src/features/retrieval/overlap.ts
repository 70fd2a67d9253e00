import type { Hit, Mode } from "./queries";

/** A chunk found by more than one mode: a letter and colour shared by its hits in every
 * column, and the rank it has in each mode. */
export interface Shared {
  letter: string;
  colour: number;
  ranks: Partial<Record<Mode, number>>;
}

/** Number of distinct chip colours (retrieval.css: .shared-0 ... .shared-7). */
export const SHARED_COLOURS = 8;

/** The chunks that appear in several modes' hits, lettered A, B, ... in the order they are
 * first met reading the columns row by row (best hits first). */
export function sharedHits(columns: Partial<Record<Mode, Hit[]>>): Map<string, Shared> {
  const ranks = new Map<string, Partial<Record<Mode, number>>>();
  const order: string[] = [];
  const modes = Object.keys(columns) as Mode[];
  const depth = Math.max(0, ...modes.map((m) => columns[m]?.length ?? 0));
  for (let i = 0; i < depth; i++) {
    for (const mode of modes) {
      const hit = columns[mode]?.[i];
      if (!hit) continue;
      if (!ranks.has(hit.chunk_id)) {
        ranks.set(hit.chunk_id, {});
        order.push(hit.chunk_id);
      }
      ranks.get(hit.chunk_id)![mode] = i + 1;
    }
  }
  const shared = new Map<string, Shared>();
  for (const id of order) {
    const r = ranks.get(id)!;
    if (Object.keys(r).length < 2) continue;
    const n = shared.size;
    shared.set(id, { letter: letterOf(n), colour: n % SHARED_COLOURS, ranks: r });
  }
  return shared;
}

/** 0 -> A, 25 -> Z, 26 -> AA. */
function letterOf(n: number): string {
  let s = "";
  let k = n;
  do {
    s = String.fromCharCode(65 + (k % 26)) + s;
    k = Math.floor(k / 26) - 1;
  } while (k >= 0);
  return s;
}
