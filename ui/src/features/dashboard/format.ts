// How the dashboard writes its figures, and the windows its filter offers.

export const NONE = "–";

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  return `${(value * 100).toFixed(1)} %`;
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  if (value !== 0 && Math.abs(value) < 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function count(value: number | null | undefined): string {
  if (value === null || value === undefined) return NONE;
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return Math.round(value).toLocaleString("en-US");
}

/** The windows the filter offers: span back from now and the bucket of the series. */
export const WINDOWS = {
  "24h": { label: "Last 24 hours", hours: 24, bucket: "hour" },
  "7d": { label: "Last 7 days", hours: 24 * 7, bucket: "hour" },
  "30d": { label: "Last 30 days", hours: 24 * 30, bucket: "day" },
  "90d": { label: "Last 90 days", hours: 24 * 90, bucket: "day" },
} as const;
export type WindowName = keyof typeof WINDOWS | "custom";

/** A bucket start as the x axis shows it (UTC: the rollups' buckets are UTC hours and days). */
export function bucketLabel(iso: string, bucket: "hour" | "day"): string {
  const d = new Date(iso);
  const day = d.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  if (bucket === "day") return day;
  const hour = d.toLocaleTimeString("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: "UTC",
  });
  return `${day} ${hour}`;
}
