/**
 * The overlay's arithmetic, pure (tested without a browser): where a point on the map is
 * on the screen, how big a dot is at a zoom, and which dot is under the pointer.
 *
 * The map is a plane, and a camera sees a plane through a homography (a 3 × 3 matrix up
 * to scale; an affine one when the map is not tilted). Four points the map itself puts
 * on the screen (MapLibre's `unproject`) fix it exactly, so the overlay needs nothing of
 * MapLibre's internals and follows any pan, zoom, rotation or pitch.
 */

export type Point = readonly [number, number];
/** Row-major 3 × 3: screen = H · (x, y, 1), divided by the third component. */
export type Homography = Float64Array;

/** The homography taking each of four `from` points to its `to` point (no three of
 * either on one line), or null when the points do not fix one. */
export function solveHomography(from: readonly Point[], to: readonly Point[]): Homography | null {
  if (from.length !== 4 || to.length !== 4) return null;
  // Condition the source: centred and scaled to about 1 (map offsets are ~1e-4).
  const cx = (from[0]![0] + from[1]![0] + from[2]![0] + from[3]![0]) / 4;
  const cy = (from[0]![1] + from[1]![1] + from[2]![1] + from[3]![1]) / 4;
  let scale = 0;
  for (const [x, y] of from) scale = Math.max(scale, Math.abs(x - cx), Math.abs(y - cy));
  if (!(scale > 0) || !Number.isFinite(scale)) return null;
  // a·x + b·y + c - u·g·x - u·h·y = u;  d·x + e·y + f - v·g·x - v·h·y = v  (i = 1)
  const rows: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const x = (from[i]![0] - cx) / scale;
    const y = (from[i]![1] - cy) / scale;
    const [u, v] = to[i]!;
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  const n = 8;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(rows[r]![col]!) > Math.abs(rows[pivot]![col]!)) pivot = r;
    if (Math.abs(rows[pivot]![col]!) < 1e-12) return null;
    [rows[col], rows[pivot]] = [rows[pivot]!, rows[col]!];
    const p = rows[col]!;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = rows[r]!;
      const f = row[col]! / p[col]!;
      if (f === 0) continue;
      for (let k = col; k <= n; k++) row[k]! -= f * p[k]!;
    }
  }
  const s = rows.map((row, i) => row[n]! / row[i]!);
  const [a, b, c, d, e, f, g, h] = s as [number, number, number, number, number, number, number, number];
  // Undo the conditioning: x' = (x - cx) / scale.
  const k = 1 / scale;
  const out = new Float64Array([a * k, b * k, c - (a * cx + b * cy) * k, d * k, e * k, f - (d * cx + e * cy) * k, g * k, h * k, 1 - (g * cx + h * cy) * k]);
  return out.every(Number.isFinite) ? out : null;
}

/** Where the homography puts (x, y); null behind the camera. */
export function applyHomography(m: Homography, x: number, y: number): Point | null {
  const w = m[6]! * x + m[7]! * y + m[8]!;
  if (!(w > 0)) return null;
  return [(m[0]! * x + m[1]! * y + m[2]!) / w, (m[3]! * x + m[4]! * y + m[5]!) / w];
}

function interpolate(zoom: number, stops: readonly (readonly [number, number])[]): number {
  const first = stops[0]!;
  if (zoom <= first[0]) return first[1];
  for (let i = 1; i < stops.length; i++) {
    const [z1, v1] = stops[i]!;
    const [z0, v0] = stops[i - 1]!;
    if (zoom <= z1) return v0 + ((v1 - v0) * (zoom - z0)) / (z1 - z0);
  }
  return stops[stops.length - 1]![1];
}

/** A doctor's dot at a zoom (CSS px): its radius and its white rim around it. */
export function doctorDot(zoom: number): { radius: number; rim: number } {
  return {
    radius: interpolate(zoom, [
      [9, 2.5],
      [13, 4.5],
      [16, 7],
    ]),
    rim: interpolate(zoom, [
      [9, 0],
      [13, 1],
      [16, 1.5],
    ]),
  };
}

/** The dot under the pointer at (px, py): the nearest whose centre is within `reach`
 * (CSS px) after the homography; the later one (drawn on top) on a tie. -1 for none. */
export function nearestDot(m: Homography, xy: Float32Array, px: number, py: number, reach: number): number {
  let best = -1;
  let bestD = reach * reach;
  const count = xy.length / 2;
  for (let i = 0; i < count; i++) {
    const x = xy[2 * i]!;
    const y = xy[2 * i + 1]!;
    const w = m[6]! * x + m[7]! * y + m[8]!;
    if (!(w > 0)) continue;
    const dx = (m[0]! * x + m[1]! * y + m[2]!) / w - px;
    const dy = (m[3]! * x + m[4]! * y + m[5]!) / w - py;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}
