import { describe, expect, it } from "vitest";
import { checkExtras, fits } from "./extras";

const LIST = [
  { code: "injection", name_ru: "Инъекция", name_en: "Injection", price_kopecks: 500_00 },
  { code: "ecg", name_ru: "ЭКГ", name_en: "ECG", price_kopecks: 1_500_00 },
];

describe("checkExtras", () => {
  it("adds the chosen extras with their reasons and says what is left of the cap", () => {
    const c = checkExtras(
      [
        { code: "injection", chosen: true, reason: "  high fever " },
        { code: "ecg", chosen: false, reason: "" },
      ],
      LIST,
      1_750_00,
    );
    expect(c.total_kopecks).toBe(500_00);
    expect(c.left_kopecks).toBe(1_250_00);
    expect(c.over).toBe(false);
    expect(c.problems).toEqual({});
    expect(c.extras).toEqual([{ code: "injection", reason: "high fever" }]);
  });

  it("needs a reason for each and sends nothing while one is missing", () => {
    const c = checkExtras([{ code: "injection", chosen: true, reason: "  " }], LIST, 1_750_00);
    expect(c.problems).toEqual({ injection: "extras.reasonRequired" });
    expect(c.extras).toEqual([]);
  });

  it("refuses a sum over the cap, naming every chosen line", () => {
    const c = checkExtras(
      [
        { code: "injection", chosen: true, reason: "a" },
        { code: "ecg", chosen: true, reason: "b" },
      ],
      LIST,
      1_750_00,
    );
    expect(c.total_kopecks).toBe(2_000_00);
    expect(c.left_kopecks).toBe(-250_00);
    expect(c.over).toBe(true);
    expect(c.problems).toEqual({ injection: "extras.overCap", ecg: "extras.overCap" });
    expect(c.extras).toEqual([]);
  });

  it("allows exactly the cap, and nothing with a cap of zero", () => {
    expect(checkExtras([{ code: "ecg", chosen: true, reason: "x" }], LIST, 1_500_00).over).toBe(false);
    expect(checkExtras([{ code: "injection", chosen: true, reason: "x" }], LIST, 0).over).toBe(true);
    expect(checkExtras([], LIST, 0).extras).toEqual([]);
  });

  it("flags a code the list does not have", () => {
    const c = checkExtras([{ code: "gone", chosen: true, reason: "x" }], LIST, 10_000_00);
    expect(c.problems).toEqual({ gone: "extras.unknown" });
  });

  it("knows which extras still fit", () => {
    expect(fits(LIST[0]!, 500_00)).toBe(true);
    expect(fits(LIST[1]!, 1_499_99)).toBe(false);
  });
});
