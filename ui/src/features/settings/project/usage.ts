// A budget period's usage as a bar: spent, then reserved (requests in flight), of the limit.

export interface UsageBar {
  /** Whether there is a limit (else there is no bar, only the figures). */
  limited: boolean;
  /** Widths in percent of the limit, clamped so the two fit in 100. */
  spentPct: number;
  reservedPct: number;
  /** Spent + reserved reached the limit: the next request that needs any of it is refused. */
  full: boolean;
}

export function usageBar(spent: number, reserved: number, limit: number | null): UsageBar {
  if (limit === null) return { limited: false, spentPct: 0, reservedPct: 0, full: false };
  const used = spent + reserved;
  if (limit <= 0) {
    return { limited: true, spentPct: used > 0 ? 100 : 0, reservedPct: 0, full: true };
  }
  const spentPct = Math.min(100, (spent / limit) * 100);
  const reservedPct = Math.min(100 - spentPct, (reserved / limit) * 100);
  return { limited: true, spentPct, reservedPct, full: used >= limit };
}
