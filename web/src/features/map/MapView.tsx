/**
 * The map: MapLibre GL JS drawing the engine's own vector tiles (/map/style.json), with
 * the live layers on top: the route, doctors, the patient's home, the pin. MapLibre is
 * loaded only when a map is shown (its own chunk, not part of the first load).
 */
import type { GeoJSONSource, Map as MapLibreMap } from "maplibre-gl";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocale, useT } from "../../i18n";
import { mapInfo } from "./api";
import { markersToGeoJSON, routeToGeoJSON } from "./geojson";
import type { LatLon, Marker } from "./types";

const KIND_COLOURS = [
  "match",
  ["get", "kind"],
  "doctor", "#1b5fbf",
  "me", "#1b5fbf",
  "home", "#c2410c",
  "patient", "#c2410c",
  "pin", "#b91c1c",
  "#374151",
] as const;

export interface MapViewProps {
  label: string;
  markers?: Marker[];
  route?: [number, number][] | null;
  onPick?: (point: LatLon) => void;
  /** The map moves to show these (when the list changes). */
  fit?: LatLon[];
  className?: string;
}

type Lib = typeof import("maplibre-gl");

export function MapView({ label, markers = [], route = null, onPick, fit = [], className = "" }: MapViewProps) {
  const t = useT();
  const locale = useLocale();
  const box = useRef<HTMLDivElement>(null);
  const map = useRef<MapLibreMap | null>(null);
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  const pick = useRef(onPick);
  pick.current = onPick;

  useEffect(() => {
    let cancelled = false;
    let made: MapLibreMap | null = null;
    (async () => {
      try {
        const [lib, info] = await Promise.all([import("./maplibre") as Promise<{ default: Lib }>, mapInfo()]);
        if (cancelled || !box.current) return;
        const maplibregl = lib.default;
        made = new maplibregl.Map({
          container: box.current,
          style: info.style_url,
          center: [info.center.lon, info.center.lat],
          zoom: 13,
          minZoom: Math.max(info.min_zoom, 9),
          maxZoom: 19,
          maxBounds: [
            [info.bounds.west - 0.1, info.bounds.south - 0.1],
            [info.bounds.east + 0.1, info.bounds.north + 0.1],
          ],
          attributionControl: { compact: false },
          locale: {
            "NavigationControl.ZoomIn": t("map.zoomIn"),
            "NavigationControl.ZoomOut": t("map.zoomOut"),
            "NavigationControl.ResetBearing": t("map.resetBearing"),
            "Map.Title": label,
          },
        });
        map.current = made;
        made.addControl(new maplibregl.NavigationControl({ showCompass: true, visualizePitch: false }), "top-right");
        made.on("error", (event) => {
          if (String(event.error?.message ?? "").includes("WebGL")) setFailed(true);
        });
        made.on("click", (event) => pick.current?.({ lat: event.lngLat.lat, lon: event.lngLat.lng }));
        made.on("load", () => {
          if (!made) return;
          made.addSource("tot-route", { type: "geojson", data: routeToGeoJSON(null) });
          made.addSource("tot-points", { type: "geojson", data: markersToGeoJSON([]) });
          made.addLayer({
            id: "tot-route-casing",
            type: "line",
            source: "tot-route",
            layout: { "line-cap": "round", "line-join": "round" },
            paint: { "line-color": "#ffffff", "line-width": 9 },
          });
          made.addLayer({
            id: "tot-route",
            type: "line",
            source: "tot-route",
            layout: { "line-cap": "round", "line-join": "round" },
            paint: { "line-color": "#1b5fbf", "line-width": 5 },
          });
          made.addLayer({
            id: "tot-areas",
            type: "circle",
            source: "tot-points",
            filter: [">", ["get", "radius"], 0],
            paint: {
              "circle-color": "#1b5fbf",
              "circle-opacity": 0.15,
              "circle-stroke-color": "#1b5fbf",
              "circle-stroke-width": 1.5,
              "circle-radius": [
                "interpolate", ["exponential", 2], ["zoom"],
                0, ["/", ["get", "radius"], 78271.5],
                22, ["/", ["get", "radius"], 0.0187],
              ],
            },
          });
          made.addLayer({
            id: "tot-points",
            type: "circle",
            source: "tot-points",
            paint: {
              "circle-color": KIND_COLOURS as unknown as string,
              "circle-radius": ["match", ["get", "kind"], "pin", 9, 8],
              "circle-stroke-color": "#ffffff",
              "circle-stroke-width": 2.5,
            },
          });
          made.addLayer({
            id: "tot-labels",
            type: "symbol",
            source: "tot-points",
            layout: {
              "text-field": ["get", "label"],
              "text-font": ["DejaVu Sans Bold"],
              "text-size": 13,
              "text-offset": [0, 1.3],
              "text-anchor": "top",
              "text-allow-overlap": true,
            },
            paint: { "text-color": "#111827", "text-halo-color": "#ffffff", "text-halo-width": 2 },
          });
          setReady(true);
        });
      } catch (exc) {
        console.warn("map:", exc instanceof Error ? exc.message : exc);
        if (!cancelled) setFailed(true);
      }
    })();
    return () => {
      cancelled = true;
      made?.remove();
      map.current = null;
    };
    // The map is made once; its words follow the language at the next mount.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [locale]);

  useEffect(() => {
    const m = map.current;
    if (!ready || !m) return;
    (m.getSource("tot-points") as GeoJSONSource | undefined)?.setData(markersToGeoJSON(markers));
  }, [ready, markers]);

  useEffect(() => {
    const m = map.current;
    if (!ready || !m) return;
    (m.getSource("tot-route") as GeoJSONSource | undefined)?.setData(routeToGeoJSON(route));
  }, [ready, route]);

  const fitKey = fit.map((p) => `${p.lat.toFixed(5)},${p.lon.toFixed(5)}`).join(";");
  useEffect(() => {
    const m = map.current;
    if (!ready || !m || !fit.length) return;
    if (fit.length === 1) {
      m.easeTo({ center: [fit[0]!.lon, fit[0]!.lat], zoom: Math.max(m.getZoom(), 15), duration: 400 });
      return;
    }
    const lons = fit.map((p) => p.lon);
    const lats = fit.map((p) => p.lat);
    m.fitBounds(
      [
        [Math.min(...lons), Math.min(...lats)],
        [Math.max(...lons), Math.max(...lats)],
      ],
      { padding: 60, maxZoom: 16, duration: 400 },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, fitKey]);

  return (
    <div class={`map-frame ${className}`}>
      <div
        ref={box}
        class="map"
        role="region"
        aria-label={label}
        data-ready={ready ? "true" : "false"}
        data-markers={String(markers.length)}
        data-route-points={String(route?.length ?? 0)}
      />
      {failed && (
        <p class="map-failed" role="status">
          {t("map.unavailable")}
        </p>
      )}
    </div>
  );
}
