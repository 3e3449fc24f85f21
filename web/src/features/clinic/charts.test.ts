import { describe, expect, it } from "vitest";
import { layoutBars, niceMax, ticks } from "./charts";

describe("chart scales", () => {
  it("round the top up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(-3)).toBe(1);
    expect(niceMax(Number.NaN)).toBe(1);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(11)).toBe(20);
    expect(niceMax(21)).toBe(25);
    expect(niceMax(26)).toBe(50);
    expect(niceMax(50)).toBe(50);
    expect(niceMax(51)).toBe(100);
    expect(niceMax(0.3)).toBe(0.5);
    expect(niceMax(1234)).toBe(2000);
  });

  it("never put the top under the largest value, nor more than 2.5 times over it", () => {
    for (let v = 0.01; v < 1e6; v *= 1.37) {
      const top = niceMax(v);
      expect(top).toBeGreaterThanOrEqual(v - 1e-9);
      expect(top / v).toBeLessThanOrEqual(2.5 + 1e-9);
    }
  });

  it("tick evenly from zero to the top", () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(ticks(2.5, 5)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });

  it("lay bars out in proportion, bottom-aligned, inside the plot", () => {
    const data = [
      { label: "a", value: 10 },
      { label: "b", value: 5 },
      { label: "c", value: 0 },
      { label: "d", value: -3 },
    ];
    const { bars, top, ticks: t } = layoutBars(data, { width: 400, height: 100 });
    expect(top).toBe(10);
    expect(bars.map((b) => b.height)).toEqual([100, 50, 0, 0]);
    for (const b of bars) {
      expect(b.y + b.height).toBeCloseTo(100);
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(400 + 1e-9);
    }
    expect(bars[1]!.x).toBeGreaterThan(bars[0]!.x);
    expect(t[0]).toEqual({ value: 0, y: 100 });
    expect(t[t.length - 1]).toEqual({ value: 10, y: 0 });
  });

  it("draw nothing wrong for an empty series", () => {
    const { bars, top } = layoutBars([], { width: 100, height: 50 });
    expect(bars).toEqual([]);
    expect(top).toBe(1);
  });
});
