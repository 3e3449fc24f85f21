// The map library and its styles, in a chunk of their own (loaded with the first map).
import "maplibre-gl/dist/maplibre-gl.css";
import maplibregl from "maplibre-gl";

export default maplibregl;
