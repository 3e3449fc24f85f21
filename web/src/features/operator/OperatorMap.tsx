/**
 * The operator's live map: MapLibre over the engine's own tiles, and over it the live
 * doctors and open bookings on an overlay of their own (overlay.ts). They change only
 * through `draw(frame)`, about once a second: the overlay is redrawn, never the map under
 * it, and never a render of the page per message.
 */
import type { Map as MapLibreMap, MapMouseEvent } from "maplibre-gl";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocale, useT } from "../../i18n";
import { mapInfo } from "../map/api";
import type { LiveFrame } from "./liveLayer";
import { LiveOverlay } from "./overlay";
import type { Bounds } from "./types";

export { BOOKING_COLOUR, DOCTOR_COLOURS, EMERGENCY_COLOUR } from "./overlay";

type Lib = typeof import("maplibre-gl");

export interface MapHandle {
  draw(frame: LiveFrame & { doctorIds: string[] }): void;
  /** The open booking, drawn larger with a dark rim. */
  select(id: string | null): void;
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
    let overlayMade: LiveOverlay | null = null;
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
          const overlay = new LiveOverlay(m);
          overlayMade = overlay;
          m.on("click", (event: MapMouseEvent) => {
            const hit = overlay.hit(event.point.x, event.point.y);
            if (hit?.kind === "booking") handlers.current.onBooking(hit.id);
            else if (hit?.kind === "doctor") handlers.current.onDoctor(hit.id);
          });
          // The pointer over a dot: at most one look every 50 ms (10,000 dots a look).
          let looked = 0;
          m.on("mousemove", (event: MapMouseEvent) => {
            const now = performance.now();
            if (now - looked < 50) return;
            looked = now;
            m.getCanvas().style.cursor = overlay.hit(event.point.x, event.point.y) ? "pointer" : "";
          });
          m.on("moveend", () => handlers.current.onMove(bounds()));
          const el = box.current;
          let draws = 0;
          handlers.current.onReady({
            draw(frame) {
              if (cancelled) return; // this map was removed (a new one is made for another language)
              const t0 = performance.now();
              overlay.setFrame(frame);
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
            select(id) {
              if (!cancelled) overlay.select(id);
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
      overlayMade?.remove();
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
