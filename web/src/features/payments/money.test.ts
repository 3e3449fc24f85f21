import { describe, expect, it } from "vitest";
import { formatMoney } from "../../i18n/format";
import { basisPointsToInput, kopecksToInput, parseRoubles, parseScaled, parseWhole } from "./money";

const ok = (text: string) => {
  const p = parseRoubles(text);
  if (!p.ok) throw new Error(`${text}: ${p.error}`);
  return p.value;
};
const err = (text: string) => {
  const p = parseRoubles(text);
  return p.ok ? null : p.error;
};

describe("parseRoubles", () => {
  it("reads roubles with a comma or a point into kopecks exactly", () => {
    expect(ok("3500,50")).toBe(350050);
    expect(ok("3500.50")).toBe(350050);
    expect(ok("3500,5")).toBe(350050);
    expect(ok("3500")).toBe(350000);
    expect(ok("0,01")).toBe(1);
    expect(ok(",5")).toBe(50);
    expect(ok("7.")).toBe(700);
    expect(ok("0")).toBe(0);
    expect(ok("007,10")).toBe(710);
    // the classic float traps: 0.1 + 0.2, 1.005 * 100, 4.35 * 100 = 434.99999…
    expect(ok("4.35")).toBe(435);
    expect(ok("1.10")).toBe(110);
    expect(ok("19.99")).toBe(1999);
    expect(ok("0.29")).toBe(29);
  });

  it("takes the spaces people and Intl put between thousands, and a rouble sign", () => {
    expect(ok("3 500,50")).toBe(350050);
    expect(ok("3\u00a0500")).toBe(350000);
    expect(ok("1\u202f234\u202f567,89")).toBe(123456789);
    expect(ok(" 3500 ₽ ")).toBe(350000);
    expect(ok("3500руб")).toBe(350000);
  });

  it("refuses what is not an amount, with a reason", () => {
    expect(err("")).toBe("money.required");
    expect(err("   ")).toBe("money.required");
    expect(err("-5")).toBe("money.negative");
    expect(err("−5")).toBe("money.negative");
    expect(err("3500,505")).toBe("money.tooPrecise");
    expect(err("abc")).toBe("money.invalid");
    expect(err("1,2,3")).toBe("money.invalid");
    expect(err("1e5")).toBe("money.invalid");
    expect(err("0x10")).toBe("money.invalid");
    expect(err(",")).toBe("money.invalid");
    expect(err("Infinity")).toBe("money.invalid");
    expect(err("100000001")).toBe("money.tooLarge"); // above 100 million roubles
    expect(err("99999999999999999999")).toBe("money.tooLarge");
    expect(ok("100000000")).toBe(10_000_000_000);
  });

  it("round-trips every amount through the form's text (both languages)", () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const samples = [0, 1, 9, 10, 99, 100, 101, 350050, 10_000_000_000];
    for (let i = 0; i < 2000; i++) samples.push(next() % 10_000_000_001);
    for (const k of samples) {
      expect(ok(kopecksToInput(k, "ru"))).toBe(k);
      expect(ok(kopecksToInput(k, "en"))).toBe(k);
    }
  });

  it("agrees with what formatMoney shows", () => {
    for (const k of [350000, 350050, 1, 123456789]) {
      expect(ok(formatMoney(k, "RUB", "ru"))).toBe(k);
    }
  });
});

describe("kopecksToInput", () => {
  it("writes whole roubles without kopecks, else two digits", () => {
    expect(kopecksToInput(350000)).toBe("3500");
    expect(kopecksToInput(350050)).toBe("3500,50");
    expect(kopecksToInput(350005, "en")).toBe("3500.05");
    expect(kopecksToInput(0)).toBe("0");
    expect(kopecksToInput(1.5)).toBe("");
  });
});

describe("parseScaled and parseWhole", () => {
  it("reads kilometres into metres and percents into basis points", () => {
    expect(parseScaled("10", 3)).toEqual({ ok: true, value: 10_000 });
    expect(parseScaled("2,5", 3)).toEqual({ ok: true, value: 2_500 });
    expect(parseScaled("12.25", 2)).toEqual({ ok: true, value: 1_225 });
    expect(parseScaled("1,0001", 3)).toEqual({ ok: false, error: "money.tooPrecise" });
    expect(parseScaled("101", 2, { max: 10_000 })).toEqual({ ok: false, error: "money.tooLarge" });
    expect(basisPointsToInput(1500)).toBe("15");
    expect(basisPointsToInput(1250)).toBe("12,5");
    expect(basisPointsToInput(1205, "en")).toBe("12.05");
    for (const bp of [0, 1, 10, 99, 1234, 10_000]) expect(parseScaled(basisPointsToInput(bp), 2)).toEqual({ ok: true, value: bp });
  });

  it("takes whole numbers within bounds", () => {
    expect(parseWhole("15", 0, 100)).toEqual({ ok: true, value: 15 });
    expect(parseWhole("101", 0, 100)).toEqual({ ok: false, error: "number.range" });
    expect(parseWhole("1.5", 0, 100)).toEqual({ ok: false, error: "money.invalid" });
    expect(parseWhole("", 0, 100)).toEqual({ ok: false, error: "money.invalid" });
    expect(parseWhole("-1", 0, 100)).toEqual({ ok: false, error: "money.invalid" });
  });
});
