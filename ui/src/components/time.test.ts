import { describe, expect, it } from "vitest";
import { formatDuration, formatTime, relativeTime } from "./time";

describe("formatDuration", () => {
  it("writes seconds, minutes, hours and days in the largest units", () => {
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(45)).toBe("45 s");
    expect(formatDuration(90)).toBe("1 min 30 s");
    expect(formatDuration(3600)).toBe("1 h");
    expect(formatDuration(5400)).toBe("1 h 30 min");
    // Whole days drop the seconds.
    expect(formatDuration(2 * 86_400 + 61)).toBe("2 d 1 min");
  });

  it("rounds and never goes below zero", () => {
    expect(formatDuration(59.6)).toBe("1 min");
    expect(formatDuration(-5)).toBe("0 s");
  });
});

describe("relativeTime", () => {
  const now = new Date("2026-01-10T12:00:00Z");

  it("says how far a time is in the largest whole unit, ahead or behind", () => {
    expect(relativeTime("2026-01-10T11:55:00Z", now)).toBe("5 minutes ago");
    expect(relativeTime("2026-01-10T15:00:00Z", now)).toBe("in 3 hours");
    expect(relativeTime("2026-01-13T12:00:00Z", now)).toBe("in 3 days");
    expect(relativeTime("2026-01-10T12:00:00Z", now)).toBe("now");
  });

  it("writes a dash for no time and the text itself for a bad one", () => {
    expect(relativeTime(null, now)).toBe("—");
    expect(relativeTime("not a time", now)).toBe("not a time");
  });
});

describe("formatTime", () => {
  it("writes a dash for no time and keeps a bad one as given", () => {
    expect(formatTime(undefined)).toBe("—");
    expect(formatTime("soon")).toBe("soon");
    expect(formatTime("2026-01-10T12:00:00Z")).toBe(new Date("2026-01-10T12:00:00Z").toLocaleString());
  });
});
