import { api } from "../../lib/http";
import type { LatLon } from "../map/types";

export interface Place {
  label: string;
  kind: "address" | "street" | "place";
  street: string | null;
  house_number: string | null;
  city: string | null;
  lat: number;
  lon: number;
  score: number;
  distance_m: number | null;
}

export async function searchAddress(q: string, near: LatLon | null, lang: string, signal?: AbortSignal): Promise<Place[]> {
  const params = new URLSearchParams({ q, limit: "6", lang });
  if (near) params.set("near", `${near.lat.toFixed(5)},${near.lon.toFixed(5)}`);
  const out = await api<{ results: Place[] }>(`/geocode/search?${params}`, { signal });
  return out.results;
}

export async function reverseAddress(point: LatLon, lang: string, signal?: AbortSignal): Promise<Place | null> {
  const params = new URLSearchParams({ lat: point.lat.toFixed(6), lon: point.lon.toFixed(6), lang });
  const out = await api<{ result: Place | null }>(`/geocode/reverse?${params}`, { signal });
  return out.result;
}
