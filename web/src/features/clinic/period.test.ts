import { describe, expect, it } from "vitest";
import { fromRows, toRows } from "./hours";
import { checkPeriod, lastDays } from "./period";

describe("the statistics' period", () => {
  it("counts the last days inclusively, across months", () => {
    expect(lastDays("2026-12-02", 30)).toEqual({ since: "2026-11-03", until: "2026-12-02" });
    expect(lastDays("2026-03-01", 1)).toEqual({ since: "2026-03-01", until: "2026-03-01" });
  });

  it("refuses a missing date, a reversed period and one over a year", () => {
    expect(checkPeriod("2026-11-01", "2026-11-30")).toBeNull();
    expect(checkPeriod("", "2026-11-30")).toBe("clinic.periodInvalid");
    expect(checkPeriod("2026-12-01", "2026-11-30")).toBe("clinic.periodOrder");
    expect(checkPeriod("2024-01-01", "2026-11-30")).toBe("clinic.periodTooLong");
  });
});

describe("opening hours", () => {
  it("round-trip the week and name the wrong days", () => {
    const rows = toRows([{ weekday: 0, opens: "08:00", closes: "20:00" }, { weekday: 6, opens: "22:00", closes: "06:00" }]);
    expect(rows).toHaveLength(7);
    expect(rows[1]!.open).toBe(false);
    expect(fromRows(rows)).toEqual({
      hours: [{ weekday: 0, opens: "08:00", closes: "20:00" }, { weekday: 6, opens: "22:00", closes: "06:00" }],
      bad: [],
    });
    const wrong = rows.map((r) => (r.weekday === 2 ? { ...r, open: true, opens: "25:00" } : r.weekday === 3 ? { ...r, open: true, opens: "10:00", closes: "10:00" } : r));
    expect(fromRows(wrong).bad).toEqual([2, 3]);
  });
});
