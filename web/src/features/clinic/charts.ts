/** Scales for the small SVG bar charts (pure, tested). */

/** A "nice" top for an axis holding `max`: 1, 2, 2.5 or 5 times a power of ten, at least 1. */
export function niceMax(max: number): number {
  if (!Number.isFinite(max) || max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= max - 1e-9) return step * power;
  }
  return 10 * power;
}

/** Evenly spaced ticks from 0 to `top` (inclusive), `count` intervals. */
export function ticks(top: number, count = 4): number[] {
  const out: number[] = [];
  for (let i = 0; i <= count; i++) out.push(Math.round(((top * i) / count) * 1e6) / 1e6);
  return out;
}

export interface Bar {
  label: string;
  value: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface BarLayout {
  bars: Bar[];
  top: number;
  ticks: { value: number; y: number }[];
}

/** Vertical bars filling `width` × `height` (the plot area, without the axis): bar heights
 * in proportion to values against a nice top; negative or missing values draw as 0. */
export function layoutBars(
  data: { label: string; value: number }[],
  { width, height, gap = 0.2 }: { width: number; height: number; gap?: number },
): BarLayout {
  const values = data.map((d) => (Number.isFinite(d.value) && d.value > 0 ? d.value : 0));
  const top = niceMax(Math.max(0, ...values));
  const slot = data.length ? width / data.length : width;
  const barWidth = Math.max(1, slot * (1 - gap));
  const bars = data.map((d, i) => {
    const h = (values[i]! / top) * height;
    return { label: d.label, value: d.value, x: i * slot + (slot - barWidth) / 2, y: height - h, width: barWidth, height: h };
  });
  return { bars, top, ticks: ticks(top).map((value) => ({ value, y: height - (value / top) * height })) };
}
