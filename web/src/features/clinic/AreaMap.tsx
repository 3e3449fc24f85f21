/**
 * The service area on the map: polygons drawn by clicks (each click a vertex; close with
 * the button, a double click or Enter), a selected polygon's vertices dragged to edit.
 * Keyboard users pan the map with the arrows and add the vertex at the map's centre.
 * Its own MapLibre map (the shared MapView draws points and a route, not areas).
 */
import type { GeoJSONSource, Map as MapLibreMap, MapMouseEvent } from "maplibre-gl";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocale, useT } from "../../i18n";
import { mapInfo } from "../map/api";
import type { AreaState, Point } from "./polygons";

type Lib = typeof import("maplibre-gl");

export interface AreaMapProps {
  area: AreaState;
  label: string;
  onClickPoint: (p: Point) => void;
  onSelect: (index: number) => void;
  onMoveVertex: (polygon: number, vertex: number, p: Point) => void;
  onDoubleClick: () => void;
  /** Where to add a vertex from the keyboard: the map's centre, read when asked. */
  centreRef: { current: (() => Point | null) | null };
}

function areaData(area: AreaState) {
  const features: unknown[] = area.polygons.map((ring, i) => ({
    type: "Feature",
    geometry: { type: "Polygon", coordinates: [[...ring, ring[0]!]] },
    properties: { index: i, selected: area.selected === i ? 1 : 0 },
  }));
  return { type: "FeatureCollection", features };
}

function vertexData(area: AreaState) {
  const features: unknown[] = [];
  if (area.selected !== null) {
    area.polygons[area.selected]?.forEach((p, v) =>
      features.push({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: { polygon: area.selected, vertex: v, draft: 0 } }),
    );
  }
  area.draft?.forEach((p, v) => features.push({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: { polygon: -1, vertex: v, draft: 1 } }));
  return { type: "FeatureCollection", features };
}

function draftData(area: AreaState) {
  const d = area.draft ?? [];
  return {
    type: "FeatureCollection",
    features: d.length >= 2 ? [{ type: "Feature", geometry: { type: "LineString", coordinates: d }, properties: {} }] : [],
  };
}

export function AreaMap({ area, label, onClickPoint, onSelect, onMoveVertex, onDoubleClick, centreRef }: AreaMapProps) {
  const t = useT();
  const locale = useLocale();
  const box = useRef<HTMLDivElement>(null);
  const map = useRef<MapLibreMap | null>(null);
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  const latest = useRef({ area, onClickPoint, onSelect, onMoveVertex, onDoubleClick });
  latest.current = { area, onClickPoint, onSelect, onMoveVertex, onDoubleClick };

  useEffect(() => {
    let cancelled = false;
    let made: MapLibreMap | null = null;
    (async () => {
      try {
        const [lib, info] = await Promise.all([import("../map/maplibre") as Promise<{ default: Lib }>, mapInfo()]);
        if (cancelled || !box.current) return;
        const maplibregl = lib.default;
        const first = latest.current.area.polygons[0]?.[0];
        made = new maplibregl.Map({
          container: box.current,
          style: info.style_url,
          center: first ?? [info.center.lon, info.center.lat],
          zoom: 12,
          minZoom: Math.max(info.min_zoom, 8),
          maxZoom: 18,
          doubleClickZoom: false,
          attributionControl: { compact: false },
          locale: {
            "NavigationControl.ZoomIn": t("map.zoomIn"),
            "NavigationControl.ZoomOut": t("map.zoomOut"),
            "NavigationControl.ResetBearing": t("map.resetBearing"),
            "Map.Title": label,
          },
        });
        map.current = made;
        const m = made;
        m.addControl(new maplibregl.NavigationControl({ showCompass: true, visualizePitch: false }), "top-right");
        centreRef.current = () => {
          const c = m.getCenter();
          return [round(c.lng), round(c.lat)];
        };
        m.on("load", () => {
          m.addSource("area", { type: "geojson", data: areaData(latest.current.area) as never });
          m.addSource("area-draft", { type: "geojson", data: draftData(latest.current.area) as never });
          m.addSource("area-vertices", { type: "geojson", data: vertexData(latest.current.area) as never });
          m.addLayer({ id: "area-fill", type: "fill", source: "area", paint: { "fill-color": ["case", ["==", ["get", "selected"], 1], "#c2410c", "#1b5fbf"], "fill-opacity": 0.18 } });
          m.addLayer({ id: "area-line", type: "line", source: "area", paint: { "line-color": ["case", ["==", ["get", "selected"], 1], "#c2410c", "#1b5fbf"], "line-width": 2.5 } });
          m.addLayer({ id: "area-draft", type: "line", source: "area-draft", paint: { "line-color": "#b91c1c", "line-width": 2.5, "line-dasharray": [2, 1] } });
          m.addLayer({
            id: "area-vertices",
            type: "circle",
            source: "area-vertices",
            paint: { "circle-radius": 6, "circle-color": ["case", ["==", ["get", "draft"], 1], "#b91c1c", "#c2410c"], "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 },
          });
          // The saved area in view.
          const points = latest.current.area.polygons.flat();
          if (points.length >= 3) {
            const lons = points.map((p) => p[0]);
            const lats = points.map((p) => p[1]);
            m.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 40, maxZoom: 16, duration: 0 });
          }
          setReady(true);
        });
        let dragging: { polygon: number; vertex: number } | null = null;
        m.on("mousedown", "area-vertices", (e) => {
          const f = e.features?.[0];
          const polygon = Number(f?.properties?.polygon ?? -1);
          if (!f || polygon < 0) return;
          e.preventDefault();
          dragging = { polygon, vertex: Number(f.properties?.vertex ?? 0) };
          m.getCanvas().style.cursor = "grabbing";
        });
        m.on("mousemove", (e: MapMouseEvent) => {
          if (!dragging) return;
          latest.current.onMoveVertex(dragging.polygon, dragging.vertex, [round(e.lngLat.lng), round(e.lngLat.lat)]);
        });
        m.on("mouseup", () => {
          if (dragging) {
            dragging = null;
            m.getCanvas().style.cursor = "";
          }
        });
        m.on("click", (e: MapMouseEvent) => {
          const a = latest.current.area;
          if (a.draft) {
            latest.current.onClickPoint([round(e.lngLat.lng), round(e.lngLat.lat)]);
            return;
          }
          const hit = m.queryRenderedFeatures(e.point, { layers: ["area-fill"] })[0];
          if (hit) latest.current.onSelect(Number(hit.properties?.index ?? 0));
        });
        m.on("dblclick", (e) => {
          if (latest.current.area.draft) {
            e.preventDefault();
            latest.current.onDoubleClick();
          }
        });
        m.on("error", (event) => {
          if (String(event.error?.message ?? "").includes("WebGL")) setFailed(true);
        });
      } catch (exc) {
        console.warn("map:", exc instanceof Error ? exc.message : exc);
        if (!cancelled) setFailed(true);
      }
    })();
    return () => {
      cancelled = true;
      centreRef.current = null;
      made?.remove();
      map.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [locale]);

  useEffect(() => {
    const m = map.current;
    if (!ready || !m) return;
    (m.getSource("area") as GeoJSONSource | undefined)?.setData(areaData(area) as never);
    (m.getSource("area-draft") as GeoJSONSource | undefined)?.setData(draftData(area) as never);
    (m.getSource("area-vertices") as GeoJSONSource | undefined)?.setData(vertexData(area) as never);
  }, [ready, area]);

  return (
    <div class="map-frame">
      <div
        ref={box}
        class={`map${area.draft ? " drawing" : ""}`}
        role="region"
        aria-label={label}
        id="area-map"
        data-ready={ready ? "true" : "false"}
        data-polygons={String(area.polygons.length)}
        data-draft={String(area.draft?.length ?? -1)}
      />
      {failed && (
        <p class="map-failed" role="status">
          {t("map.unavailable")}
        </p>
      )}
    </div>
  );
}

/** 6 decimals: about 10 cm, plenty for an area's edge. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
