import { describe, expect, it } from "vitest";
import { CSV_TABLES, csvFileName, csvUrl } from "./csv";

describe("CSV links", () => {
  it("sit beside the statistics with the same period and a table", () => {
    expect(csvUrl("/clinics/c1/stats", "by_day", { since: "2026-11-01", until: "2026-11-30" })).toBe(
      "/api/v1/clinics/c1/stats.csv?since=2026-11-01&until=2026-11-30&table=by_day",
    );
    expect(csvUrl("/admin/stats", "by_area", { since: "2026-11-01", until: "2026-11-30", clinic_id: null })).toBe(
      "/api/v1/admin/stats.csv?since=2026-11-01&until=2026-11-30&table=by_area",
    );
    expect(csvUrl("/admin/stats", "by_doctor", { clinic_id: "a b&c" })).toBe("/api/v1/admin/stats.csv?clinic_id=a+b%26c&table=by_doctor");
  });

  it("cover every table the API exports", () => {
    expect([...CSV_TABLES]).toEqual(["by_day", "by_hour", "by_doctor", "by_call_type", "by_area"]);
    expect(csvFileName("by_hour", "2026-11-01", "2026-11-30")).toBe("tot-by_hour-2026-11-01-2026-11-30.csv");
  });
});
