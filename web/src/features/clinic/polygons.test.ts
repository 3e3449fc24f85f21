import { describe, expect, it } from "vitest";
import {
  EMPTY_AREA,
  addVertex,
  canClose,
  cancelDraft,
  closeDraft,
  deletePolygon,
  deleteVertex,
  fromMultiPolygon,
  insertVertex,
  moveVertex,
  select,
  signedArea,
  startDraft,
  toMultiPolygon,
  undoVertex,
  type AreaState,
  type Point,
} from "./polygons";

const square: Point[] = [
  [30, 60],
  [30.1, 60],
  [30.1, 60.1],
  [30, 60.1],
];

function draw(points: Point[], from: AreaState = EMPTY_AREA): AreaState {
  return closeDraft(points.reduce(addVertex, startDraft(from)));
}

describe("drawing the service area", () => {
  it("adds vertices only while drawing, and closes with three distinct points", () => {
    expect(addVertex(EMPTY_AREA, [1, 2])).toBe(EMPTY_AREA);
    let s = startDraft(EMPTY_AREA);
    s = addVertex(s, [30, 60]);
    s = addVertex(s, [30, 60]); // a double click's second point
    s = addVertex(s, [30.1, 60]);
    expect(s.draft).toHaveLength(2);
    expect(canClose(s)).toBe(false);
    expect(closeDraft(s)).toBe(s);
    s = addVertex(s, [30.1, 60.1]);
    expect(canClose(s)).toBe(true);
    s = closeDraft(s);
    expect(s.draft).toBeNull();
    expect(s.polygons).toHaveLength(1);
    expect(s.selected).toBe(0);
  });

  it("undoes the last point and cancels a draft without touching the polygons", () => {
    const one = draw(square);
    let s = addVertex(addVertex(startDraft(one), [1, 1]), [2, 2]);
    s = undoVertex(s);
    expect(s.draft).toEqual([[1, 1]]);
    s = cancelDraft(s);
    expect(s.draft).toBeNull();
    expect(s.polygons).toEqual(one.polygons);
  });

  it("edits: moves, inserts and deletes vertices, keeping at least three", () => {
    let s = draw(square);
    s = moveVertex(s, 0, 2, [30.2, 60.2]);
    expect(s.polygons[0]![2]).toEqual([30.2, 60.2]);
    s = insertVertex(s, 0, 0, [30.05, 59.95]);
    expect(s.polygons[0]).toHaveLength(5);
    expect(s.polygons[0]![1]).toEqual([30.05, 59.95]);
    s = deleteVertex(deleteVertex(s, 0, 1), 0, 0);
    expect(s.polygons[0]).toHaveLength(3);
    expect(deleteVertex(s, 0, 0)).toBe(s); // a triangle stays a triangle
    expect(moveVertex(s, 5, 0, [0, 0])).toBe(s);
  });

  it("deletes polygons and keeps the selection on the same polygon", () => {
    let s = draw(square);
    s = draw([[31, 61], [31.1, 61], [31.1, 61.1]], s);
    s = draw([[32, 62], [32.1, 62], [32.1, 62.1]], s);
    s = select(s, 2);
    s = deletePolygon(s, 0);
    expect(s.polygons).toHaveLength(2);
    expect(s.selected).toBe(1);
    expect(s.polygons[1]![0]).toEqual([32, 62]);
    s = deletePolygon(s, 1);
    expect(s.selected).toBeNull();
    expect(select(s, 7)).toBe(s);
  });

  it("saves a MultiPolygon with closed, counter-clockwise rings, and reads it back", () => {
    const clockwise = [...square].reverse();
    const s = draw(clockwise);
    const geo = toMultiPolygon(s)!;
    expect(geo.type).toBe("MultiPolygon");
    const ring = geo.coordinates[0]![0]!;
    expect(ring).toHaveLength(5);
    expect(ring[0]).toEqual(ring[4]);
    expect(signedArea(ring.slice(0, -1))).toBeGreaterThan(0);
    const back = fromMultiPolygon(geo);
    expect(back.polygons).toHaveLength(1);
    expect(back.polygons[0]).toHaveLength(4);
    expect(toMultiPolygon(back)).toEqual(geo);
    expect(toMultiPolygon(EMPTY_AREA)).toBeNull(); // no area: anywhere
    expect(fromMultiPolygon(null)).toEqual(EMPTY_AREA);
  });
});
