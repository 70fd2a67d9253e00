// TTL and re-index intervals: entered in hours or days, sent to the API in seconds.

export type DurationUnit = "hours" | "days";

export const UNIT_SECONDS: Record<DurationUnit, number> = { hours: 3_600, days: 86_400 };

/** `amount` `unit`s in whole seconds; null when the amount is blank (no limit). */
export function toSeconds(amount: string, unit: DurationUnit): number | null {
  const text = amount.trim();
  if (text === "") return null;
  return Math.round(Number(text) * UNIT_SECONDS[unit]);
}
