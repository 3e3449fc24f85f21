/**
 * The service area being drawn: closed polygons (rings of [lon, lat], GeoJSON's order)
 * and at most one open draft. Pure: the map sends clicks and drags, this decides.
 * Saved as a GeoJSON MultiPolygon (each ring closed: its first point repeated last).
 */

export type Point = [number, number]; // [lon, lat]

export interface MultiPolygon {
  type: "MultiPolygon";
  coordinates: Point[][][];
}

export interface AreaState {
  polygons: Point[][]; // outer rings, not closed (the first point is not repeated)
  draft: Point[] | null; // being drawn
  selected: number | null; // the polygon being edited
}

export const EMPTY_AREA: AreaState = { polygons: [], draft: null, selected: null };

export function startDraft(s: AreaState): AreaState {
  return { ...s, draft: [], selected: null };
}

export function addVertex(s: AreaState, p: Point): AreaState {
  if (!s.draft) return s;
  const last = s.draft[s.draft.length - 1];
  if (last && last[0] === p[0] && last[1] === p[1]) return s; // a double click
  return { ...s, draft: [...s.draft, p] };
}

export function undoVertex(s: AreaState): AreaState {
  if (!s.draft) return s;
  return { ...s, draft: s.draft.slice(0, -1) };
}

export function cancelDraft(s: AreaState): AreaState {
  return { ...s, draft: null };
}

/** Closes the draft into a polygon: it needs three distinct points. */
export function closeDraft(s: AreaState): AreaState {
  if (!s.draft || distinct(s.draft).length < 3) return s;
  return { polygons: [...s.polygons, s.draft], draft: null, selected: s.polygons.length };
}

export function canClose(s: AreaState): boolean {
  return !!s.draft && distinct(s.draft).length >= 3;
}

export function select(s: AreaState, index: number | null): AreaState {
  if (index !== null && (index < 0 || index >= s.polygons.length)) return s;
  return { ...s, selected: index };
}

export function deletePolygon(s: AreaState, index: number): AreaState {
  if (index < 0 || index >= s.polygons.length) return s;
  const polygons = s.polygons.filter((_, i) => i !== index);
  const selected = s.selected === null || s.selected === index ? null : s.selected > index ? s.selected - 1 : s.selected;
  return { ...s, polygons, selected };
}

export function moveVertex(s: AreaState, polygon: number, vertex: number, p: Point): AreaState {
  const ring = s.polygons[polygon];
  if (!ring || vertex < 0 || vertex >= ring.length) return s;
  const next = ring.map((q, i) => (i === vertex ? p : q));
  return { ...s, polygons: s.polygons.map((r, i) => (i === polygon ? next : r)) };
}

/** Removes a vertex; a polygon keeps at least three. */
export function deleteVertex(s: AreaState, polygon: number, vertex: number): AreaState {
  const ring = s.polygons[polygon];
  if (!ring || ring.length <= 3 || vertex < 0 || vertex >= ring.length) return s;
  return { ...s, polygons: s.polygons.map((r, i) => (i === polygon ? r.filter((_, j) => j !== vertex) : r)) };
}

/** Inserts a vertex after `after` (the middle of an edge, to add detail). */
export function insertVertex(s: AreaState, polygon: number, after: number, p: Point): AreaState {
  const ring = s.polygons[polygon];
  if (!ring || after < 0 || after >= ring.length) return s;
  const next = [...ring.slice(0, after + 1), p, ...ring.slice(after + 1)];
  return { ...s, polygons: s.polygons.map((r, i) => (i === polygon ? next : r)) };
}

function distinct(ring: Point[]): Point[] {
  const seen = new Set<string>();
  return ring.filter((p) => {
    const key = `${p[0]},${p[1]}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The area as GeoJSON (null when there is none: the clinic serves anywhere). Rings are
 * closed and wound counter-clockwise, as RFC 7946 recommends for outer rings. */
export function toMultiPolygon(s: AreaState): MultiPolygon | null {
  const rings = s.polygons.filter((r) => distinct(r).length >= 3);
  if (!rings.length) return null;
  return {
    type: "MultiPolygon",
    coordinates: rings.map((ring) => {
      const ccw = signedArea(ring) < 0 ? [...ring].reverse() : ring;
      return [[...ccw.map((p) => [p[0], p[1]] as Point), [ccw[0]![0], ccw[0]![1]] as Point]];
    }),
  };
}

/** The editing state of a saved area (outer rings only; holes are not drawn here). */
export function fromMultiPolygon(area: MultiPolygon | null | undefined): AreaState {
  if (!area || area.type !== "MultiPolygon" || !Array.isArray(area.coordinates)) return EMPTY_AREA;
  const polygons = area.coordinates
    .map((poly) => poly[0] ?? [])
    .map((ring) => {
      const open = ring.length > 1 && ring[0]![0] === ring[ring.length - 1]![0] && ring[0]![1] === ring[ring.length - 1]![1] ? ring.slice(0, -1) : ring;
      return open.map((p) => [p[0], p[1]] as Point);
    })
    .filter((ring) => ring.length >= 3);
  return { polygons, draft: null, selected: null };
}

/** Twice the signed area (shoelace; positive when counter-clockwise in lon/lat). */
export function signedArea(ring: Point[]): number {
  let sum = 0;
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i]!;
    const b = ring[(i + 1) % ring.length]!;
    sum += a[0] * b[1] - b[0] * a[1];
  }
  return sum;
}
