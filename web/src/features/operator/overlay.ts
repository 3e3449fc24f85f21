/**
 * The live doctors and bookings drawn over the map on a canvas of their own (WebGL, one
 * draw call for all the doctors). A new frame every second redraws only this canvas: the
 * map under it (roads, names, buildings) is not drawn again, which in software rendering
 * (no GPU) costs 100-250 ms a time. When the map moves, the overlay is redrawn in the
 * same animation frame, from a homography fixed by four of the map's own points
 * (overlayMath.ts). Clicks and the pointer's cursor are answered from the same arrays.
 */
import type { Map as MapLibreMap } from "maplibre-gl";
import type { LiveFrame } from "./liveLayer";
import { doctorDot, nearestDot, solveHomography, type Homography, type Point } from "./overlayMath";

/** Doctors' colours by status (the legend uses the same), in STATUS_INDEX order. */
export const DOCTOR_COLOURS: Record<string, string> = {
  available: "#15803d",
  offered: "#ca8a04",
  en_route: "#1d4ed8",
  on_visit: "#7c3aed",
  on_break: "#6b7280",
};
export const BOOKING_COLOUR = "#c2410c";
export const EMERGENCY_COLOUR = "#dc2626";
const SELECTED_RIM = "#111827";
const STALE_OPACITY = 0.45;

// Kinds: 0-9 doctors (status index * 2 + stale), then bookings.
const BOOKING = 10; // + 1 for an emergency
const SELECTED = 12; // + 1 for an emergency
const KINDS = 14;

const VERTEX = `
attribute vec2 a_pos;
attribute float a_kind;
uniform mat3 u_h;
uniform vec2 u_size;
uniform float u_dpr;
uniform vec4 u_fill[${KINDS}];
uniform vec4 u_rim[${KINDS}];
uniform vec2 u_dot[${KINDS}];
varying vec4 v_fill;
varying vec4 v_rim;
varying float v_r;
varying float v_outer;
void main() {
  int k = int(a_kind + 0.5);
  vec3 p = u_h * vec3(a_pos, 1.0);
  if (p.z <= 0.0) {
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
    gl_PointSize = 0.0;
    return;
  }
  vec2 s = p.xy / p.z;
  v_r = u_dot[k].x * u_dpr;
  v_outer = v_r + u_dot[k].y * u_dpr;
  v_fill = u_fill[k];
  v_rim = u_rim[k];
  gl_PointSize = 2.0 * v_outer + 2.0;
  gl_Position = vec4(s / u_size * vec2(2.0, -2.0) + vec2(-1.0, 1.0), 0.0, 1.0);
}`;

const FRAGMENT = `
precision mediump float;
varying vec4 v_fill;
varying vec4 v_rim;
varying float v_r;
varying float v_outer;
void main() {
  float d = length(gl_PointCoord - 0.5) * (2.0 * v_outer + 2.0);
  float edge = 1.0 - smoothstep(v_outer - 0.5, v_outer + 0.5, d);
  if (edge <= 0.0) discard;
  float rim = v_outer > v_r + 0.01 ? smoothstep(v_r - 0.5, v_r + 0.5, d) : 0.0;
  vec4 c = mix(v_fill, v_rim, rim);
  gl_FragColor = vec4(c.rgb * c.a, c.a) * edge;
}`;

function rgba(hex: string, alpha = 1): [number, number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255, alpha];
}

const WHITE = rgba("#ffffff");

interface Gl {
  gl: WebGLRenderingContext;
  program: WebGLProgram;
  pos: number;
  kind: number;
  doctorXY: WebGLBuffer;
  doctorKind: WebGLBuffer;
  bookingXY: WebGLBuffer;
  bookingKind: WebGLBuffer;
  u: Record<"h" | "size" | "dpr" | "fill" | "rim" | "dot", WebGLUniformLocation | null>;
}

export type Hit = { kind: "booking" | "doctor"; id: string };

export class LiveOverlay {
  readonly canvas: HTMLCanvasElement;
  private g: Gl | null = null;
  private frame: (LiveFrame & { doctorIds: string[] }) | null = null;
  private selectedId: string | null = null;
  private selectedIndex = -1;
  private bookingKinds = new Float32Array(0);
  private uploaded = false;
  private pending = 0;
  private h: Homography | null = null;
  private readonly onRender = () => this.draw();
  private readonly onResize = () => this.resize();

  constructor(private readonly map: MapLibreMap) {
    const canvas = document.createElement("canvas");
    canvas.className = "op-live-canvas";
    canvas.setAttribute("aria-hidden", "true");
    this.canvas = canvas;
    map.getCanvasContainer().appendChild(canvas);
    canvas.addEventListener("webglcontextlost", (event) => {
      event.preventDefault();
      this.g = null;
    });
    canvas.addEventListener("webglcontextrestored", () => {
      this.g = this.safeInit();
      this.uploaded = false;
      this.schedule();
    });
    this.g = this.safeInit();
    this.resize();
    map.on("render", this.onRender);
    map.on("resize", this.onResize);
  }

  /** Without WebGL the map itself says it cannot draw; the overlay just stays empty. */
  private safeInit(): Gl | null {
    try {
      return this.init();
    } catch (exc) {
      console.warn("map overlay:", exc instanceof Error ? exc.message : exc);
      return null;
    }
  }

  private init(): Gl | null {
    const gl = this.canvas.getContext("webgl", { alpha: true, premultipliedAlpha: true, antialias: false, depth: false, stencil: false });
    if (!gl) return null;
    const shader = (type: number, source: string) => {
      const s = gl.createShader(type)!;
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`overlay shader: ${gl.getShaderInfoLog(s)}`);
      return s;
    };
    const program = gl.createProgram()!;
    gl.attachShader(program, shader(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, shader(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`overlay program: ${gl.getProgramInfoLog(program)}`);
    gl.useProgram(program);
    const u = (name: string) => gl.getUniformLocation(program, name);
    const g: Gl = {
      gl,
      program,
      pos: gl.getAttribLocation(program, "a_pos"),
      kind: gl.getAttribLocation(program, "a_kind"),
      doctorXY: gl.createBuffer()!,
      doctorKind: gl.createBuffer()!,
      bookingXY: gl.createBuffer()!,
      bookingKind: gl.createBuffer()!,
      u: { h: u("u_h"), size: u("u_size"), dpr: u("u_dpr"), fill: u("u_fill[0]"), rim: u("u_rim[0]"), dot: u("u_dot[0]") },
    };
    const fill: number[] = [];
    const rim: number[] = [];
    for (const status of ["available", "offered", "en_route", "on_visit", "on_break"]) {
      fill.push(...rgba(DOCTOR_COLOURS[status]!), ...rgba(DOCTOR_COLOURS[status]!, STALE_OPACITY));
      rim.push(...WHITE, ...WHITE);
    }
    fill.push(...rgba(BOOKING_COLOUR), ...rgba(EMERGENCY_COLOUR), ...rgba(BOOKING_COLOUR), ...rgba(EMERGENCY_COLOUR));
    rim.push(...WHITE, ...WHITE, ...rgba(SELECTED_RIM), ...rgba(SELECTED_RIM));
    gl.uniform4fv(g.u.fill, new Float32Array(fill));
    gl.uniform4fv(g.u.rim, new Float32Array(rim));
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    return g;
  }

  private resize(): void {
    const box = this.map.getCanvas();
    const dpr = window.devicePixelRatio || 1;
    const w = box.clientWidth;
    const h = box.clientHeight;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    const cw = Math.max(1, Math.round(w * dpr));
    const ch = Math.max(1, Math.round(h * dpr));
    if (this.canvas.width !== cw || this.canvas.height !== ch) {
      this.canvas.width = cw;
      this.canvas.height = ch;
    }
    this.schedule();
  }

  /** A new frame of doctors and bookings: uploaded and drawn now (shown with the next
   * animation frame). */
  setFrame(frame: LiveFrame & { doctorIds: string[] }): void {
    this.frame = frame;
    this.uploaded = false;
    if (this.pending) cancelAnimationFrame(this.pending);
    this.pending = 0;
    this.draw();
  }

  select(id: string | null): void {
    if (id === this.selectedId) return;
    this.selectedId = id;
    this.uploaded = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.draw();
    });
  }

  private upload(g: Gl, frame: LiveFrame): void {
    const { gl } = g;
    gl.bindBuffer(gl.ARRAY_BUFFER, g.doctorXY);
    gl.bufferData(gl.ARRAY_BUFFER, frame.doctorXY, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, g.doctorKind);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array(frame.doctorKind), gl.DYNAMIC_DRAW);
    const n = frame.bookingKind.length;
    if (this.bookingKinds.length !== n) this.bookingKinds = new Float32Array(n);
    this.selectedIndex = this.selectedId === null ? -1 : frame.bookingIds.indexOf(this.selectedId);
    for (let i = 0; i < n; i++) {
      const emergency = frame.bookingKind[i]! ? 1 : 0;
      this.bookingKinds[i] = (i === this.selectedIndex ? SELECTED : BOOKING) + emergency;
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, g.bookingXY);
    gl.bufferData(gl.ARRAY_BUFFER, frame.bookingXY, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, g.bookingKind);
    gl.bufferData(gl.ARRAY_BUFFER, this.bookingKinds, gl.DYNAMIC_DRAW);
    this.uploaded = true;
  }

  /** The homography from the frame's offsets (Web Mercator minus its origin) to CSS px. */
  private homography(frame: LiveFrame): Homography | null {
    const box = this.map.getCanvas();
    const w = box.clientWidth;
    const h = box.clientHeight;
    if (!w || !h) return null;
    // The lower half of the screen is on the ground at any pitch MapLibre allows.
    const screen: Point[] = [
      [0, h / 2],
      [w, h / 2],
      [0, h],
      [w, h],
    ];
    const ground: Point[] = screen.map(([x, y]) => {
      const c = this.map.unproject([x, y]);
      const lat = Math.max(-85.051129, Math.min(85.051129, c.lat));
      const my = (180 - (180 / Math.PI) * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360))) / 360;
      return [(180 + c.lng) / 360 - frame.originX, my - frame.originY];
    });
    return solveHomography(ground, screen);
  }

  /** Draws the overlay for the map as it is now (called from the map's own render too). */
  draw(): void {
    const g = this.g;
    const frame = this.frame;
    if (!g) return;
    const { gl } = g;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!frame) return;
    const h = this.homography(frame);
    this.h = h;
    if (!h) return;
    if (!this.uploaded) this.upload(g, frame);
    const dpr = window.devicePixelRatio || 1;
    const zoom = this.map.getZoom();
    const dot = doctorDot(zoom);
    const dots: number[] = [];
    for (let k = 0; k < 10; k++) dots.push(dot.radius, dot.rim);
    dots.push(6, 2, 8, 2, 10, 3, 10, 3);
    gl.useProgram(g.program);
    // mat3 uniforms are column-major.
    gl.uniformMatrix3fv(g.u.h, false, new Float32Array([h[0]!, h[3]!, h[6]!, h[1]!, h[4]!, h[7]!, h[2]!, h[5]!, h[8]!]));
    gl.uniform2f(g.u.size, this.canvas.width / dpr, this.canvas.height / dpr);
    gl.uniform1f(g.u.dpr, dpr);
    gl.uniform2fv(g.u.dot, new Float32Array(dots));
    const layer = (xy: WebGLBuffer, kind: WebGLBuffer, first: number, count: number) => {
      if (count <= 0) return;
      gl.bindBuffer(gl.ARRAY_BUFFER, xy);
      gl.enableVertexAttribArray(g.pos);
      gl.vertexAttribPointer(g.pos, 2, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, kind);
      gl.enableVertexAttribArray(g.kind);
      gl.vertexAttribPointer(g.kind, 1, gl.FLOAT, false, 0, 0);
      gl.drawArrays(gl.POINTS, first, count);
    };
    layer(g.doctorXY, g.doctorKind, 0, frame.total);
    layer(g.bookingXY, g.bookingKind, 0, frame.bookingIds.length);
    if (this.selectedIndex >= 0) layer(g.bookingXY, g.bookingKind, this.selectedIndex, 1); // on top
  }

  /** The booking (on top) or else the doctor under the pointer at (x, y) in CSS px. */
  hit(x: number, y: number): Hit | null {
    const frame = this.frame;
    if (!frame) return null;
    const h = this.h ?? this.homography(frame);
    if (!h) return null;
    const b = nearestDot(h, frame.bookingXY, x, y, 12);
    if (b >= 0) return { kind: "booking", id: frame.bookingIds[b]! };
    const dot = doctorDot(this.map.getZoom());
    const d = nearestDot(h, frame.doctorXY, x, y, dot.radius + dot.rim + 3);
    const id = d >= 0 ? frame.doctorIds[d] : undefined;
    return id ? { kind: "doctor", id } : null;
  }

  remove(): void {
    this.map.off("render", this.onRender);
    this.map.off("resize", this.onResize);
    if (this.pending) cancelAnimationFrame(this.pending);
    this.canvas.remove();
    this.g = null;
  }
}
