import { describe, expect, it } from "vitest";
import { formatCountdown, formatDistance, formatDuration, formatMoney, formatRating, formatTime } from "./format";
import { reasonWords } from "./words";

// U+00A0 and U+202F: the spaces Intl puts between digits and before ₽.
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("money", () => {
  it("is roubles after the amount in Russian, grouped by spaces", () => {
    expect(plain(formatMoney(3500_00, "RUB", "ru"))).toBe("3 500 ₽");
    expect(plain(formatMoney(4550_50, "RUB", "ru"))).toBe("4 550,50 ₽");
    expect(formatMoney(3500_00, "RUB", "en")).toBe("₽3,500");
    expect(formatMoney(4550.5, "RUB", "ru")).toBe("—"); // kopecks are whole: a float is a bug
    expect(formatMoney(null, "RUB", "ru")).toBe("—");
  });
});

describe("times", () => {
  it("use the 24-hour clock in both languages", () => {
    const at = new Date(2026, 11, 1, 21, 5);
    expect(formatTime(at, "ru")).toBe("21:05");
    expect(formatTime(at, "en")).toBe("21:05");
    expect(formatTime("not a date", "ru")).toBe("—");
  });

  it("say durations in words with plurals", () => {
    expect(formatDuration(30, "ru")).toBe("меньше минуты");
    expect(formatDuration(60, "ru")).toBe("1 минута");
    expect(formatDuration(125, "ru")).toBe("3 минуты");
    expect(formatDuration(5 * 60, "ru")).toBe("5 минут");
    expect(formatDuration(21 * 60, "ru")).toBe("21 минута");
    expect(formatDuration(65 * 60, "ru")).toBe("1 ч 5 мин");
    expect(formatDuration(120, "en")).toBe("2 minutes");
    expect(formatDuration(null, "en")).toBe("—");
  });

  it("count down as m:ss", () => {
    expect(formatCountdown(75)).toBe("1:15");
    expect(formatCountdown(9.4)).toBe("0:09");
    expect(formatCountdown(-3)).toBe("0:00");
  });
});

describe("distances and ratings", () => {
  it("are metres to the ten and kilometres to the tenth", () => {
    expect(plain(formatDistance(447, "ru"))).toBe("450 м");
    expect(plain(formatDistance(1234, "ru"))).toBe("1,2 км");
    expect(formatDistance(1234, "en")).toBe("1.2 km");
    expect(formatRating(4.75, "ru")).toBe("4,8");
  });
});

describe("reasons in a booking's history", () => {
  it("hide the engine's technical words and keep what people wrote", () => {
    expect(reasonWords("offered to 9d93dd90")).toBeNull();
    expect(reasonWords("doctor reports en_route")).toBeNull();
    expect(reasonWords("search started")).toBeNull();
    expect(reasonWords("offer accepted")).toEqual({ key: "reason.offerAccepted" });
    expect(reasonWords("scheduled time reached")).toEqual({ key: "reason.scheduledReached" });
    expect(reasonWords("doctor 1a2b taken by emergency 9f")).toEqual({ key: "reason.preempted" });
    expect(reasonWords("Мне стало лучше")).toEqual({ text: "Мне стало лучше" });
    expect(reasonWords("x " + "a".repeat(32))).toEqual({ key: "reason.system" });
  });
});
