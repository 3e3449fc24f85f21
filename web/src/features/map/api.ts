import { api } from "../../lib/http";
import type { MapInfo } from "./types";

let info: Promise<MapInfo> | null = null;

export function mapInfo(): Promise<MapInfo> {
  if (!info) {
    info = api<MapInfo>("/map/info", { auth: false }).catch((exc: unknown) => {
      info = null;
      throw exc;
    });
  }
  return info;
}

export interface RouteStep {
  street: string | null;
  distance_m: number;
  duration_s: number;
}

export interface Route {
  points: [number, number][];
  distance_m: number;
  eta_s: number;
  /** The streets to take (issue 13's backend; absent on an older engine). */
  steps?: RouteStep[];
}

export function roadRoute(from: { lat: number; lon: number }, to: { lat: number; lon: number }, signal?: AbortSignal): Promise<Route> {
  const q = new URLSearchParams({
    from_lat: String(from.lat),
    from_lon: String(from.lon),
    to_lat: String(to.lat),
    to_lon: String(to.lon),
  });
  return api<Route>(`/map/route?${q}`, { signal });
}
