import { describe, expect, it } from "vitest";
import { sharedHits } from "./overlap";
import type { Hit } from "./queries";

const hit = (id: string) => ({ chunk_id: id }) as Hit;

describe("sharedHits", () => {
  it("letters the chunks found by several modes, best first, with their rank per mode", () => {
    const shared = sharedHits({
      dense: [hit("a"), hit("b"), hit("c")],
      keyword: [hit("d"), hit("a")],
      hybrid: [hit("b"), hit("a"), hit("e")],
    });
    expect([...shared.keys()]).toEqual(["a", "b"]);
    expect(shared.get("a")).toEqual({
      letter: "A",
      colour: 0,
      ranks: { dense: 1, keyword: 2, hybrid: 2 },
    });
    expect(shared.get("b")).toEqual({ letter: "B", colour: 1, ranks: { dense: 2, hybrid: 1 } });
  });

  it("finds nothing shared in one column or none", () => {
    expect(sharedHits({ dense: [hit("a"), hit("b")] }).size).toBe(0);
    expect(sharedHits({}).size).toBe(0);
  });
});
