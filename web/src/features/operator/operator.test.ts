import { describe, expect, it } from "vitest";
import { searchQuery } from "./api";
import { commandFor, isTyping } from "./shortcuts";
import {
  MAX_ALERTS,
  addAlert,
  checkedIds,
  collapseReads,
  defaultFilters,
  emptyList,
  move,
  open,
  openCursor,
  target,
  toggle,
  withPage,
  type ListState,
} from "./store";
import type { Alert, Booking } from "./types";

function booking(id: string, extra: Partial<Booking> = {}): Booking {
  return {
    id,
    status: "searching",
    priority: "normal",
    is_emergency: false,
    call_type: "home_visit",
    address: "",
    latitude: 60,
    longitude: 24,
    symptoms: "",
    notes: "",
    clinic_id: null,
    patient_id: "p",
    doctor: null,
    created_at: "2026-12-02T02:00:00.000Z",
    scheduled_at: null,
    patient_is_child: false,
    language: null,
    history: [],
    ...extra,
  };
}

const page = (ids: string[], next: string | null = null) => ({ bookings: ids.map((id) => booking(id)), next_cursor: next });

describe("the bookings list and selection", () => {
  it("moves with j/k within the list and opens the cursor's booking", () => {
    let s: ListState = withPage(emptyList, page(["a", "b", "c"]), false);
    expect(s.cursor).toBe(0);
    s = move(move(move(move(s, 1), 1), 1), 1);
    expect(s.cursor).toBe(2);
    s = move(move(move(s, -1), -1), -1);
    expect(s.cursor).toBe(0);
    s = openCursor(move(s, 1));
    expect(s.openId).toBe("b");
    expect(target(s)).toBe("b");
    expect(move(emptyList, 1)).toBe(emptyList);
    expect(target(emptyList)).toBeNull();
  });

  it("keeps the cursor on its booking and the ticks of listed bookings across reloads", () => {
    let s = withPage(emptyList, page(["a", "b", "c"], "cur1"), false);
    s = toggle(toggle(toggle(move(s, 1)), "c"), "a");
    expect(checkedIds(s)).toEqual(["a", "b", "c"]);
    s = toggle(s, "a");
    expect(checkedIds(s)).toEqual(["b", "c"]);
    s = withPage(s, page(["z", "b", "d"]), false); // "c" is no longer open
    expect(s.bookings[s.cursor]!.id).toBe("b");
    expect(checkedIds(s)).toEqual(["b"]);
    expect(s.nextCursor).toBeNull();
  });

  it("appends the next page without repeating a booking", () => {
    let s = withPage(emptyList, page(["a", "b"], "c1"), false);
    s = withPage(s, page(["b", "c"], null), true);
    expect(s.bookings.map((b) => b.id)).toEqual(["a", "b", "c"]);
    expect(s.nextCursor).toBeNull();
    s = open(s, "c");
    expect([s.openId, s.cursor]).toEqual(["c", 2]);
    expect(withPage(s, page([]), false).cursor).toBe(-1);
  });

  it("keeps alerts newest first, once each, at most a hundred", () => {
    const alert = (seq: number): Alert => ({ kind: "stale_en_route", booking_id: "b", detail: "", at: "2026-12-02T02:00:00.000Z", seq });
    let alerts: Alert[] = [];
    for (let i = 0; i < 150; i++) alerts = addAlert(alerts, alert(i));
    expect(alerts).toHaveLength(MAX_ALERTS);
    expect(alerts[0]!.seq).toBe(149);
    expect(addAlert(alerts, alert(149))).toBe(alerts); // a replayed one
  });

  it("shows repeated reads once with a count", () => {
    const e = (kind: string, by: string, detail: string) => ({ kind, by, detail, at: "x" });
    const out = collapseReads([e("audit", "operator:1", "booking.read"), e("audit", "operator:1", "booking.read"), e("status", "system", ""), e("audit", "operator:1", "booking.read")]);
    expect(out.map((x) => x.times)).toEqual([2, 1, 1]);
  });
});

describe("the search's query", () => {
  const bounds = { south: 60.1, west: 24.9, north: 60.2, east: 25.0 };
  it("sends the filters, the area only when asked, and the cursor", () => {
    const q = new URLSearchParams(searchQuery({ q: "  Kaivokatu ", status: "offered", priority: "emergency", clinicId: "c-1", area: true }, bounds, "0~1.5~abc", 50));
    expect(Object.fromEntries(q)).toEqual({
      q: "Kaivokatu",
      status: "offered",
      priority: "emergency",
      clinic_id: "c-1",
      south: "60.100000",
      west: "24.900000",
      north: "60.200000",
      east: "25.000000",
      cursor: "0~1.5~abc",
      limit: "50",
    });
    expect(searchQuery(defaultFilters, bounds, null, 10)).toBe("limit=10");
  });
});

describe("keyboard shortcuts", () => {
  const input = { tagName: "INPUT", type: "search" };
  it("never fire while typing", () => {
    for (const target of [input, { tagName: "INPUT", type: "text" }, { tagName: "TEXTAREA" }, { tagName: "SELECT" }, { tagName: "DIV", isContentEditable: true }]) {
      expect(isTyping(target)).toBe(true);
      for (const key of ["j", "k", "a", "r", "c", "p", "x", "/", "?", "Enter", "R"]) expect(commandFor({ key, target }), `${key}`).toBeNull();
    }
    expect(isTyping({ tagName: "INPUT", type: "checkbox" })).toBe(false);
    expect(commandFor({ key: "x", target: { tagName: "INPUT", type: "checkbox" } })).toBe("toggle");
  });

  it("map keys to commands, leave the browser's own alone, and Escape always works", () => {
    const body = { tagName: "BODY" };
    expect(commandFor({ key: "/", target: body })).toBe("search");
    expect(commandFor({ key: "j", target: body })).toBe("down");
    expect(commandFor({ key: "k", target: body })).toBe("up");
    expect(commandFor({ key: "Enter", target: body })).toBe("open");
    expect(commandFor({ key: "Enter", target: { tagName: "BUTTON" } })).toBeNull(); // the button's own
    expect(commandFor({ key: "a", target: body })).toBe("assign");
    expect(commandFor({ key: "C", target: body })).toBe("bulkCancel");
    expect(commandFor({ key: "R", target: body })).toBe("bulkReturn");
    expect(commandFor({ key: "?", target: body })).toBe("help");
    expect(commandFor({ key: "c", ctrlKey: true, target: body })).toBeNull();
    expect(commandFor({ key: "r", metaKey: true, target: body })).toBeNull();
    expect(commandFor({ key: "q", target: body })).toBeNull();
    expect(commandFor({ key: "a", target: body }, { dialogOpen: true })).toBeNull();
    expect(commandFor({ key: "Escape", target: input }, { dialogOpen: true })).toBe("escape");
    expect(commandFor({ key: "j", target: body, isComposing: true })).toBeNull();
  });
});
