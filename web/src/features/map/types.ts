export interface LatLon {
  lat: number;
  lon: number;
}

export type MarkerKind = "home" | "doctor" | "me" | "pin" | "patient";

export interface Marker extends LatLon {
  id: string;
  kind: MarkerKind;
  label?: string;
  /** Drawn as an area of this radius (a coarse position). */
  radiusM?: number;
}

export interface MapInfo {
  name: string;
  bounds: { south: number; west: number; north: number; east: number };
  center: LatLon;
  min_zoom: number;
  max_zoom: number;
  style_url: string;
  attribution: string;
  ws_port?: number;
}
