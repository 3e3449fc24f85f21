/** The live layers as GeoJSON (pure: tested without a map). */
import type { Marker } from "./types";

export interface PointFeature {
  type: "Feature";
  geometry: { type: "Point"; coordinates: [number, number] };
  properties: { id: string; kind: string; label: string; radius: number };
}

export interface LineFeature {
  type: "Feature";
  geometry: { type: "LineString"; coordinates: [number, number][] };
  properties: Record<string, never>;
}

export function markersToGeoJSON(markers: Marker[]): { type: "FeatureCollection"; features: PointFeature[] } {
  return {
    type: "FeatureCollection",
    features: markers
      .filter((m) => Number.isFinite(m.lat) && Number.isFinite(m.lon))
      .map((m) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: [m.lon, m.lat] },
        properties: { id: m.id, kind: m.kind, label: m.label ?? "", radius: mercatorRadius(m.radiusM ?? 0, m.lat) },
      })),
  };
}

/** [[lat, lon], ...] (the API's order) as a line in GeoJSON's [lon, lat]. */
export function routeToGeoJSON(points: [number, number][] | null | undefined): {
  type: "FeatureCollection";
  features: LineFeature[];
} {
  const line = (points ?? []).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
  return {
    type: "FeatureCollection",
    features:
      line.length < 2
        ? []
        : [{ type: "Feature", geometry: { type: "LineString", coordinates: line.map(([lat, lon]) => [lon, lat]) }, properties: {} }],
  };
}

/** A radius in metres as metres at the equator (what the circle layer's zoom expression
 * turns into pixels): Web Mercator stretches by 1/cos(latitude). */
export function mercatorRadius(metres: number, lat: number): number {
  if (!(metres > 0)) return 0;
  return metres / Math.cos((lat * Math.PI) / 180);
}
