/**
 * The operator's live map: MapLibre over the engine's own tiles, with two GeoJSON sources
 * (doctors, open bookings). They are changed only through `draw(frame)`, which the
 * LiveBatcher calls at most about once a second: one `setData` per source, never a render
 * of the page per message.
 */
import type { GeoJSONSource, Map as MapLibreMap, MapLayerMouseEvent } from "maplibre-gl";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocale, useT } from "../../i18n";
import { mapInfo } from "../map/api";
import type { Frame } from "./liveLayer";
import type { Bounds } from "./types";

type Lib = typeof import("maplibre-gl");

/** Doctors' colours by status (the legend uses the same). */
export const DOCTOR_COLOURS: Record<string, string> = {
  available: "#15803d",
  offered: "#ca8a04",
  en_route: "#1d4ed8",
  on_visit: "#7c3aed",
  on_break: "#6b7280",
};
export const BOOKING_COLOUR = "#c2410c";
export const EMERGENCY_COLOUR = "#dc2626";

export interface MapHandle {
  draw(frame: Frame): void;
  bounds(): Bounds | null;
  focus(lat: number, lon: number): void;
  fitAll(): void;
}

export interface OperatorMapProps {
  label: string;
  onReady: (handle: MapHandle) => void;
  onMove: (bounds: Bounds) => void;
  onBooking: (id: string) => void;
  onDoctor: (id: string) => void;
}

const EMPTY = { type: "FeatureCollection" as const, features: [] };

export function OperatorMap({ label, onReady, onMove, onBooking, onDoctor }: OperatorMapProps) {
  const t = useT();
  const locale = useLocale();
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  const handlers = useRef({ onReady, onMove, onBooking, onDoctor });
  handlers.current = { onReady, onMove, onBooking, onDoctor };

  useEffect(() => {
    let cancelled = false;
    let made: MapLibreMap | null = null;
    (async () => {
      try {
        const [lib, info] = await Promise.all([import("../map/maplibre") as Promise<{ default: Lib }>, mapInfo()]);
        if (cancelled || !box.current) return;
        const maplibregl = lib.default;
        const m = new maplibregl.Map({
          container: box.current,
          style: info.style_url,
          bounds: [
            [info.bounds.west, info.bounds.south],
            [info.bounds.east, info.bounds.north],
          ],
          minZoom: Math.max(info.min_zoom, 8),
          maxZoom: 19,
          attributionControl: { compact: false },
          fadeDuration: 0,
          locale: {
            "NavigationControl.ZoomIn": t("map.zoomIn"),
            "NavigationControl.ZoomOut": t("map.zoomOut"),
            "NavigationControl.ResetBearing": t("map.resetBearing"),
            "Map.Title": label,
          },
        });
        made = m;
        m.addControl(new maplibregl.NavigationControl({ showCompass: true, visualizePitch: false }), "top-right");
        m.on("error", (event) => {
          if (String(event.error?.message ?? "").includes("WebGL")) setFailed(true);
        });
        const bounds = (): Bounds => {
          const b = m.getBounds();
          return { south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() };
        };
        m.on("load", () => {
          if (cancelled) return;
          m.addSource("op-doctors", { type: "geojson", data: EMPTY, buffer: 8, tolerance: 0, maxzoom: 14 });
          m.addSource("op-bookings", { type: "geojson", data: EMPTY, buffer: 8, maxzoom: 14 });
          m.addLayer({
            id: "op-doctors",
            type: "circle",
            source: "op-doctors",
            paint: {
              "circle-color": [
                "match", ["get", "status"],
                "available", DOCTOR_COLOURS.available!,
                "offered", DOCTOR_COLOURS.offered!,
                "en_route", DOCTOR_COLOURS.en_route!,
                "on_visit", DOCTOR_COLOURS.on_visit!,
                DOCTOR_COLOURS.on_break!,
              ],
              "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 2.5, 13, 4.5, 16, 7],
              "circle-opacity": ["case", ["get", "stale"], 0.45, 1],
              "circle-stroke-color": "#ffffff",
              "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 9, 0, 13, 1, 16, 1.5],
            },
          });
          m.addLayer({
            id: "op-bookings",
            type: "circle",
            source: "op-bookings",
            paint: {
              "circle-color": ["case", ["get", "emergency"], EMERGENCY_COLOUR, BOOKING_COLOUR],
              "circle-radius": ["case", ["get", "selected"], 10, ["get", "emergency"], 8, 6],
              "circle-stroke-color": ["case", ["get", "selected"], "#111827", "#ffffff"],
              "circle-stroke-width": ["case", ["get", "selected"], 3, 2],
            },
          });
          const click = (layer: "op-doctors" | "op-bookings") => (event: MapLayerMouseEvent) => {
            const id = event.features?.[0]?.properties?.id;
            if (typeof id !== "string") return;
            if (layer === "op-bookings") handlers.current.onBooking(id);
            else handlers.current.onDoctor(id);
          };
          m.on("click", "op-bookings", click("op-bookings"));
          m.on("click", "op-doctors", click("op-doctors"));
          for (const layer of ["op-bookings", "op-doctors"]) {
            m.on("mouseenter", layer, () => (m.getCanvas().style.cursor = "pointer"));
            m.on("mouseleave", layer, () => (m.getCanvas().style.cursor = ""));
          }
          m.on("moveend", () => handlers.current.onMove(bounds()));
          const el = box.current;
          let draws = 0;
          handlers.current.onReady({
            draw(frame) {
              if (cancelled) return; // this map was removed (a new one is made for another language)
              const t0 = performance.now();
              (m.getSource("op-doctors") as GeoJSONSource | undefined)?.setData(frame.doctors);
              (m.getSource("op-bookings") as GeoJSONSource | undefined)?.setData(frame.bookings);
              draws += 1;
              if (el) {
                el.dataset.doctors = String(frame.total);
                el.dataset.draws = String(draws);
              }
              // For the browser's performance test: when the layer changed, and how long
              // handing it to the map took.
              const probe = window as unknown as { __totDoctorsDrawn?: number[]; __totDrawMs?: number[] };
              probe.__totDoctorsDrawn?.push(t0);
              probe.__totDrawMs?.push(performance.now() - t0);
            },
            bounds: () => (cancelled ? null : bounds()),
            focus(lat, lon) {
              if (cancelled) return;
              m.easeTo({ center: [lon, lat], zoom: Math.max(m.getZoom(), 14), duration: 300 });
            },
            fitAll() {
              if (cancelled) return;
              m.fitBounds(
                [
                  [info.bounds.west, info.bounds.south],
                  [info.bounds.east, info.bounds.north],
                ],
                { duration: 0 },
              );
            },
          });
          if (el) el.dataset.ready = "true";
          handlers.current.onMove(bounds());
        });
      } catch (exc) {
        console.warn("map:", exc instanceof Error ? exc.message : exc);
        if (!cancelled) setFailed(true);
      }
    })();
    return () => {
      cancelled = true;
      made?.remove();
    };
    // The map is made once per language (its controls' words).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [locale]);

  return (
    <div class="op-map-frame">
      <div ref={box} id="op-map" class="op-map" role="region" aria-label={label} data-ready="false" data-doctors="0" data-draws="0" />
      {failed && (
        <p class="map-failed" role="status">
          {t("map.unavailable")}
        </p>
      )}
    </div>
  );
}
