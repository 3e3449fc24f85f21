// Shared by the three pages: the session (login, tokens, refresh), an API helper, the
// map drawn from our own road graph on a canvas, and WebSocket channels that resume
// with last_seq. No framework, nothing fetched from anywhere but this server.

export const API = "/api/v1";

// -- small helpers ----------------------------------------------------------------------

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible = true) {
  if (node) node.hidden = !visible;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function formatDistance(metres) {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return "–";
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`;
}

export function formatTime(epochOrIso) {
  const d = typeof epochOrIso === "number" ? new Date(epochOrIso * 1000) : new Date(epochOrIso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString();
}

/** Long ids inside server text (reasons) shortened for reading. */
export function tidy(text) {
  return String(text || "").replace(/\b[0-9a-f]{32}\b/g, (id) => id.slice(0, 8));
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}

export const STATUS_COLOURS = {
  available: "#2e9d4f",
  offered: "#e0a100",
  en_route: "#1f6fd1",
  on_visit: "#7b3fc4",
  on_break: "#8a8f98",
  offline: "#3c4048",
};

export const BOOKING_COLOURS = {
  requested: "#d9822b",
  scheduled: "#8a8f98",
  searching: "#d9822b",
  offered: "#e0a100",
  assigned: "#1f6fd1",
  en_route: "#1f6fd1",
  arrived: "#7b3fc4",
  in_progress: "#7b3fc4",
  completed: "#2e9d4f",
  cancelled: "#8a8f98",
  no_doctor_found: "#c62828",
};

// -- the session ------------------------------------------------------------------------

const store = window.sessionStorage;

export const session = {
  get access() { return store.getItem("tot.access"); },
  get refreshToken() { return store.getItem("tot.refresh"); },
  get user() {
    try { return JSON.parse(store.getItem("tot.user") || "null"); } catch { return null; }
  },
  save(tokens) {
    store.setItem("tot.access", tokens.access_token);
    store.setItem("tot.refresh", tokens.refresh_token);
  },
  saveUser(user) { store.setItem("tot.user", JSON.stringify(user)); },
  clear() {
    for (const key of ["tot.access", "tot.refresh", "tot.user"]) store.removeItem(key);
  },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp || 0;
  } catch {
    return 0;
  }
}

let refreshing = null;

export function refresh() {
  // One refresh at a time: refresh tokens are single use.
  if (!refreshing) {
    refreshing = (async () => {
      const token = session.refreshToken;
      if (!token) throw new ApiError(401, { detail: "not logged in" });
      const r = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!r.ok) {
        session.clear();
        throw new ApiError(r.status, await r.json().catch(() => null));
      }
      session.save(await r.json());
      return session.access;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** An access token good for at least another half minute (refreshed if need be). */
export async function freshToken() {
  const token = session.access;
  if (token && tokenExpiry(token) - Date.now() / 1000 > 30) return token;
  return refresh();
}

/** JSON in and out, with the access token; one refresh and retry on 401. */
export async function api(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const send = async () => {
    const h = { ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (auth && session.access) h.Authorization = `Bearer ${session.access}`;
    return fetch(API + path, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let r = await send();
  if (r.status === 401 && auth && session.refreshToken) {
    try {
      await refresh();
    } catch {
      throw new ApiError(401, { detail: "your session has ended: log in again" });
    }
    r = await send();
  }
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export async function login(email, password) {
  const tokens = await api("/auth/login", { method: "POST", body: { email, password }, auth: false });
  session.save(tokens);
  const user = await api("/auth/me");
  session.saveUser(user);
  return user;
}

export async function logout() {
  const token = session.refreshToken;
  session.clear();
  if (token) {
    await api("/auth/logout", { method: "POST", body: { refresh_token: token }, auth: false })
      .catch(() => null);
  }
}

/**
 * The login form in `root` (ids #login-email, #login-password, #login-submit, #login-error).
 * Resolves with the user once someone of one of `roles` is logged in (at once when the
 * session already holds one). `register` adds a "create an account" button.
 */
export function requireLogin(root, { roles, title = "Log in", register = null }) {
  return new Promise((resolve) => {
    const current = session.user;
    if (current && roles.includes(current.role) && session.refreshToken) {
      api("/auth/me").then((user) => { session.saveUser(user); resolve(user); }).catch(() => {
        session.clear();
        render();
      });
      return;
    }
    render();

    function render() {
      const error = el("p", { id: "login-error", class: "error", role: "alert" });
      const email = el("input", { id: "login-email", type: "email", autocomplete: "username", required: true });
      const password = el("input", {
        id: "login-password", type: "password", autocomplete: "current-password", required: true, minlength: 1,
      });
      const form = el("form", { id: "login-form", class: "card login" },
        el("h2", { text: title }),
        el("label", {}, "E-mail", email),
        el("label", {}, "Password", password),
        el("div", { class: "row" },
          el("button", { id: "login-submit", type: "submit", class: "primary" }, "Log in"),
          register ? el("button", { id: "register-submit", type: "button" }, "Create an account") : null),
        error);
      const attempt = async (how) => {
        error.textContent = "";
        try {
          if (how === "register") await register(email.value, password.value);
          const user = await login(email.value, password.value);
          if (!roles.includes(user.role)) {
            session.clear();
            throw new Error(`this page is for ${roles.join(" or ")} accounts; you are a ${user.role}`);
          }
          form.remove();
          resolve(user);
        } catch (exc) {
          error.textContent = exc.message;
        }
      };
      form.addEventListener("submit", (event) => { event.preventDefault(); attempt("login"); });
      if (register) $("#register-submit", form).addEventListener("click", () => attempt("register"));
      root.replaceChildren(form);
      email.focus();
    }
  });
}

/** The header's account area: who is logged in, and a logout button. */
export function showAccount(user) {
  const box = $("#account");
  if (!box) return;
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.email;
  box.replaceChildren(
    el("span", { id: "account-name", text: `${name} (${user.role})` }),
    el("button", {
      id: "logout", type: "button", class: "small",
      onclick: async () => { await logout(); location.reload(); },
    }, "Log out"),
  );
}

// -- the road map (and the page's configuration, which comes with it) -------------------

let roadsPromise = null;

/** The road network (GET /map/roads); it also names the WebSocket port. Fetched once. */
export function roads() {
  if (!roadsPromise) {
    roadsPromise = api("/map/roads", { auth: false }).catch((exc) => {
      roadsPromise = null;
      throw exc;
    });
  }
  return roadsPromise;
}

const ROAD_STYLE = [
  { width: 1, colour: "#d5d9de" }, // service roads
  { width: 1.6, colour: "#c4c9cf" }, // streets
  { width: 2.6, colour: "#f2d48f" }, // secondary
  { width: 3.6, colour: "#efb45a" }, // major
];

/**
 * A canvas map: roads from our own graph (equirectangular, fitted to the network's
 * bounding box), markers and lines on top; drag to pan, wheel to zoom, click to pick.
 */
export class MapView {
  constructor(canvas, { onClick = null, onMarkerClick = null, onViewChange = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onClick = onClick;
    this.onMarkerClick = onMarkerClick;
    this.onViewChange = onViewChange;
    this.markers = new Map();
    this.lines = new Map();
    this.segments = new Float64Array(0);
    this.ranks = [];
    this.center = { lat: 0, lon: 0 };
    this.scale = 1; // pixels per degree of latitude
    this.cos = 1;
    this.loaded = false;
    this._pending = false;
    this._attach();
    new ResizeObserver(() => this._resize()).observe(canvas);
    this._resize();
  }

  async load() {
    const data = await roads();
    this.data = data;
    this.segments = Float64Array.from(data.segments);
    this.ranks = data.ranks;
    this.fit(data.bbox);
    this.loaded = true;
    this.canvas.dataset.segments = String(data.segment_count);
    const attribution = this.canvas.parentElement && $(".attribution", this.canvas.parentElement);
    if (attribution) attribution.textContent = data.attribution;
    this.draw();
    return data;
  }

  fit(box, padding = 0.05) {
    const lat0 = (box.south + box.north) / 2;
    this.cos = Math.cos((lat0 * Math.PI) / 180) || 1;
    this.center = { lat: lat0, lon: (box.west + box.east) / 2 };
    const h = Math.max(box.north - box.south, 1e-4) * (1 + 2 * padding);
    const w = Math.max(box.east - box.west, 1e-4) * this.cos * (1 + 2 * padding);
    this.scale = Math.min(this.width / w, this.height / h);
    this._viewChanged();
    this.draw();
  }

  project(lat, lon) {
    return [
      this.width / 2 + (lon - this.center.lon) * this.cos * this.scale,
      this.height / 2 - (lat - this.center.lat) * this.scale,
    ];
  }

  unproject(x, y) {
    return {
      lat: this.center.lat - (y - this.height / 2) / this.scale,
      lon: this.center.lon + (x - this.width / 2) / (this.cos * this.scale),
    };
  }

  /** The visible box, clamped to valid coordinates. */
  viewport() {
    const a = this.unproject(0, this.height);
    const b = this.unproject(this.width, 0);
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return {
      south: clamp(a.lat, -90, 90), west: clamp(a.lon, -180, 180),
      north: clamp(b.lat, -90, 90), east: clamp(b.lon, -180, 180),
    };
  }

  /** kind: "dot" | "square" | "home" | "area"; colour, label, size, ring, title, radius_m. */
  setMarker(id, marker) {
    this.markers.set(id, { size: 7, colour: "#1f6fd1", kind: "dot", ...marker });
    this.draw();
  }

  removeMarker(id) {
    if (this.markers.delete(id)) this.draw();
  }

  clearMarkers(prefix) {
    for (const id of [...this.markers.keys()]) if (id.startsWith(prefix)) this.markers.delete(id);
    this.draw();
  }

  setLine(id, points, { colour = "#1f6fd1", width = 4, dash = null } = {}) {
    if (!points || points.length < 2) this.lines.delete(id);
    else this.lines.set(id, { points, colour, width, dash });
    this.draw();
  }

  draw() {
    if (this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this._paint();
    });
  }

  _resize() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    const oldW = this.width;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (this.data && !oldW) this.fit(this.data.bbox);
    this._viewChanged();
    this.draw();
  }

  _paint() {
    const { ctx } = this;
    ctx.fillStyle = "#f4f1ea";
    ctx.fillRect(0, 0, this.width, this.height);
    const s = this.segments;
    for (let rank = 0; rank < ROAD_STYLE.length; rank++) {
      const style = ROAD_STYLE[rank];
      ctx.beginPath();
      for (let i = 0; i < this.ranks.length; i++) {
        if (this.ranks[i] !== rank) continue;
        const [x1, y1] = this.project(s[4 * i], s[4 * i + 1]);
        const [x2, y2] = this.project(s[4 * i + 2], s[4 * i + 3]);
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
      }
      ctx.strokeStyle = style.colour;
      ctx.lineWidth = style.width * Math.min(2.5, Math.max(0.6, this.scale / 40000));
      ctx.lineCap = "round";
      ctx.stroke();
    }
    for (const line of this.lines.values()) {
      ctx.beginPath();
      line.points.forEach(([lat, lon], i) => {
        const [x, y] = this.project(lat, lon);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = line.colour;
      ctx.globalAlpha = 0.75;
      ctx.lineWidth = line.width;
      ctx.setLineDash(line.dash || []);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
    }
    const ordered = [...this.markers.values()].sort((a, b) => (a.z || 0) - (b.z || 0));
    for (const m of ordered) this._paintMarker(m);
  }

  _paintMarker(m) {
    const { ctx } = this;
    const [x, y] = this.project(m.lat, m.lon);
    ctx.save();
    if (m.kind === "area") {
      const r = Math.max(8, (m.radius_m / 111320) * this.scale);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = m.colour;
      ctx.globalAlpha = 0.18;
      ctx.fill();
      ctx.globalAlpha = 0.7;
      ctx.strokeStyle = m.colour;
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.restore();
      return;
    }
    if (m.ring) {
      ctx.beginPath();
      ctx.arc(x, y, m.size + 6, 0, 2 * Math.PI);
      ctx.strokeStyle = m.ring;
      ctx.lineWidth = 3;
      ctx.stroke();
    }
    ctx.beginPath();
    if (m.kind === "square") {
      ctx.rect(x - m.size, y - m.size, 2 * m.size, 2 * m.size);
    } else if (m.kind === "home") {
      ctx.moveTo(x, y - m.size * 1.4);
      ctx.lineTo(x + m.size * 1.1, y - m.size * 0.2);
      ctx.lineTo(x + m.size * 0.8, y + m.size);
      ctx.lineTo(x - m.size * 0.8, y + m.size);
      ctx.lineTo(x - m.size * 1.1, y - m.size * 0.2);
      ctx.closePath();
    } else {
      ctx.arc(x, y, m.size, 0, 2 * Math.PI);
    }
    ctx.fillStyle = m.colour;
    ctx.globalAlpha = m.faded ? 0.45 : 1;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = m.selected ? 3 : 1.5;
    ctx.strokeStyle = m.selected ? "#111" : "#fff";
    ctx.stroke();
    if (m.label) {
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(m.label, x + m.size + 4, y + 4);
      ctx.fillStyle = "#1d2126";
      ctx.fillText(m.label, x + m.size + 4, y + 4);
    }
    ctx.restore();
  }

  _markerAt(x, y) {
    let best = null;
    let bestD = 14;
    for (const [id, m] of this.markers) {
      if (m.kind === "area" || m.pickable === false) continue;
      const [mx, my] = this.project(m.lat, m.lon);
      const d = Math.hypot(mx - x, my - y);
      if (d < bestD) { best = id; bestD = d; }
    }
    return best;
  }

  _viewChanged() {
    if (!this.loaded) return;
    clearTimeout(this._viewTimer);
    this._viewTimer = setTimeout(() => {
      if (this.onViewChange) this.onViewChange(this.viewport());
      this._detail();
    }, 250);
  }

  /** A big network comes capped (major roads first): zoomed in, fetch the view's roads. */
  async _detail() {
    if (!this.data || !this.data.truncated) return;
    const v = this.viewport();
    const padLat = (v.north - v.south) / 2;
    const padLon = (v.east - v.west) / 2;
    const q = new URLSearchParams({
      south: Math.max(-90, v.south - padLat), west: Math.max(-180, v.west - padLon),
      north: Math.min(90, v.north + padLat), east: Math.min(180, v.east + padLon),
    });
    const ticket = (this._ticket = (this._ticket || 0) + 1);
    try {
      const part = await api(`/map/roads?${q}`, { auth: false });
      if (ticket !== this._ticket) return;
      this.segments = Float64Array.from(part.segments);
      this.ranks = part.ranks;
      this.canvas.dataset.segments = String(part.segment_count);
      this.draw();
    } catch (exc) {
      console.warn("roads for the view:", exc.message);
    }
  }

  _attach() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.offsetX, y: e.offsetY, center: { ...this.center }, moved: false };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.offsetX - drag.x;
      const dy = e.offsetY - drag.y;
      if (Math.hypot(dx, dy) > 4) drag.moved = true;
      if (!drag.moved) return;
      this.center = {
        lat: drag.center.lat + dy / this.scale,
        lon: drag.center.lon - dx / (this.cos * this.scale),
      };
      this.draw();
    });
    c.addEventListener("pointerup", (e) => {
      const was = drag;
      drag = null;
      if (!was) return;
      if (was.moved) { this._viewChanged(); return; }
      const id = this._markerAt(e.offsetX, e.offsetY);
      if (id && this.onMarkerClick) { this.onMarkerClick(id); return; }
      if (this.onClick) {
        const p = this.unproject(e.offsetX, e.offsetY);
        this.onClick(Number(p.lat.toFixed(6)), Number(p.lon.toFixed(6)));
      }
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const before = this.unproject(e.offsetX, e.offsetY);
      this.scale *= e.deltaY < 0 ? 1.2 : 1 / 1.2;
      const after = this.unproject(e.offsetX, e.offsetY);
      this.center.lat += before.lat - after.lat;
      this.center.lon += before.lon - after.lon;
      this._viewChanged();
      this.draw();
    }, { passive: false });
    c.addEventListener("dblclick", (e) => {
      e.preventDefault();
      if (this.data) this.fit(this.data.bbox);
    });
  }
}

// -- WebSocket channels -------------------------------------------------------------------

/**
 * One gateway channel (`/ws/doctor`, `/ws/patient/<id>`, `/ws/operator`). Reconnects on
 * its own, resuming with `?last_seq=` so missed events are replayed; `request()` sends a
 * message with a `ref` and resolves with the reply carrying it.
 */
export class Channel {
  constructor(path, { onMessage = () => {}, onState = () => {}, onOpen = () => {} } = {}) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onOpen = onOpen;
    this.lastSeq = null;
    this.epoch = null; // the engine start the numbers count in (hello gives it)
    this.socket = null;
    this.closed = false;
    this.retry = 0;
    this.refs = new Map();
    this.nextRef = 1;
  }

  async connect() {
    if (this.closed) return;
    this.onState("connecting");
    let url;
    try {
      const [config, token] = await Promise.all([roads(), freshToken()]);
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const params = new URLSearchParams({ token });
      if (this.lastSeq !== null && this.epoch) {
        params.set("last_seq", String(this.lastSeq));
        params.set("epoch", this.epoch);
      }
      url = `${scheme}://${location.hostname}:${config.ws_port}${this.path}?${params}`;
    } catch (exc) {
      this.onState("error", exc.message);
      if (exc.status === 401) return; // the session is over: the page asks to log in again
      this._again();
      return;
    }
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.retry = 0;
      this.onState("open");
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "hello" || message.type === "resync") {
        if (this.lastSeq === null || message.type === "resync" || message.epoch !== this.epoch) {
          this.lastSeq = message.seq;
        }
        this.epoch = message.epoch;
      } else if (typeof message.seq === "number" && message.type !== "snapshot") {
        this.lastSeq = Math.max(this.lastSeq ?? 0, message.seq);
      }
      if (message.ref !== undefined && message.ref !== null && this.refs.has(message.ref)) {
        const { resolve, reject } = this.refs.get(message.ref);
        this.refs.delete(message.ref);
        if (message.type === "error") reject(new Error(message.detail));
        else resolve(message);
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const { reject } of this.refs.values()) reject(new Error("connection lost"));
      this.refs.clear();
      if (this.closed) { this.onState("closed"); return; }
      this.onState("reconnecting", `closed (${event.code})`);
      this._again(event.code === 4410 ? 0 : undefined);
    });
  }

  _again(delay) {
    const wait = delay ?? Math.min(10_000, 500 * 2 ** this.retry++);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.connect(), wait);
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  request(message, timeoutMs = 10_000) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, ref })) {
        reject(new Error("not connected"));
        return;
      }
      this.refs.set(ref, { resolve, reject });
      setTimeout(() => {
        if (this.refs.delete(ref)) reject(new Error("no answer"));
      }, timeoutMs);
    });
  }

  close() {
    this.closed = true;
    clearTimeout(this._timer);
    if (this.socket) this.socket.close(1000, "bye");
  }
}

/** Shows a channel's state in `node` (data-state for tests and styles). */
export function connectionBadge(node) {
  return (state, detail) => {
    if (!node) return;
    node.dataset.state = state;
    node.textContent = state === "open" ? "live" : state + (detail ? `: ${detail}` : "");
  };
}

/** A timed list: newest first, at most `max` entries. */
export function pushLog(list, text, { max = 30, cls = null, data = null } = {}) {
  const item = el("li", { class: cls, dataset: data || undefined },
    el("time", { text: new Date().toLocaleTimeString() }), " ", text);
  list.prepend(item);
  while (list.children.length > max) list.lastChild.remove();
  return item;
}
