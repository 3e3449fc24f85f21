// The operator console: the city live over /ws/operator (doctors by status and open
// bookings in the map's viewport, alerts, every status change), the open bookings, and
// for one booking its candidates with ETAs and the reasons for the ranking; assign,
// reassign, return to search or cancel, always with a reason.
import {
  $, BOOKING_COLOURS, Channel, MapView, STATUS_COLOURS, api, connectionBadge, el,
  formatDistance, formatDuration, formatTime, pushLog, requireLogin, show, showAccount, shortId,
  tidy,
} from "/static/app.js";

const state = {
  map: null,
  channel: null,
  bookings: [],
  feed: { doctors: [], bookings: [] },
  selected: null,
  detail: null,
  decision: null,
  names: new Map(), // doctor id -> Promise<name>
  alerts: 0,
  escalated: new Set(), // bookings an emergency or escalation alert named
  timers: {},
};

function later(name, fn, ms = 400) {
  clearTimeout(state.timers[name]);
  state.timers[name] = setTimeout(fn, ms);
}

function doctorName(id) {
  if (!id) return Promise.resolve("–");
  if (!state.names.has(id)) {
    state.names.set(id, api(`/doctors/${encodeURIComponent(id)}`)
      .then((d) => [d.first_name, d.last_name].filter(Boolean).join(" ") || `doctor ${shortId(id)}`)
      .catch(() => `doctor ${shortId(id)}`));
  }
  return state.names.get(id);
}

function nameInto(node, id) {
  node.textContent = id ? `doctor ${shortId(id)}` : "–";
  if (id) doctorName(id).then((name) => { node.textContent = name; });
  return node;
}

// -- the live feed --------------------------------------------------------------------------

const BUSY = { assigned: "en_route", en_route: "en_route", arrived: "on_visit", in_progress: "on_visit" };

/** The feed's doctors, with what their bookings say they are doing (the feed's own status
 * is the shift's: available, on a break or offline). */
function withWork(feed) {
  const work = new Map();
  for (const b of state.bookings) if (b.doctor && BUSY[b.status]) work.set(b.doctor.id, BUSY[b.status]);
  for (const b of feed.bookings) if (b.doctor_id && BUSY[b.status]) work.set(b.doctor_id, BUSY[b.status]);
  return feed.doctors.map((d) => (d.status === "available" && work.has(d.doctor_id)
    ? { ...d, status: work.get(d.doctor_id) } : d));
}

function onFeed(raw) {
  const feed = { ...raw, doctors: withWork(raw) };
  state.feed = feed;
  const map = state.map;
  map.clearMarkers("d:");
  map.clearMarkers("b:");
  for (const d of feed.doctors) {
    if (d.lat === null || d.lon === null) continue;
    map.setMarker(`d:${d.doctor_id}`, {
      lat: d.lat, lon: d.lon, size: 7, z: 6, faded: d.stale,
      colour: STATUS_COLOURS[d.status] || STATUS_COLOURS.offline, title: d.status,
    });
  }
  for (const b of feed.bookings) {
    const emergency = isEmergency(b);
    map.setMarker(`b:${b.booking_id}`, {
      lat: b.lat, lon: b.lon, kind: "square", size: emergency ? 7 : 6, z: emergency ? 4 : 3,
      colour: emergency ? "#c62828" : BOOKING_COLOURS[b.status] || "#d9822b",
      ring: emergency ? "#c62828" : null,
      selected: b.booking_id === state.selected,
      label: b.booking_id === state.selected ? shortId(b.booking_id) : null,
    });
  }
  $("#doctor-count").textContent = String(feed.doctors.length);
  $("#available-count").textContent = String(feed.doctors.filter((d) => d.status === "available" && !d.stale).length);
  $("#open-count").textContent = String(feed.bookings.length);
  $("#emergency-count").textContent = String(feed.bookings.filter(isEmergency).length);
  $("#feed-at").textContent = `updated ${formatTime(feed.at)}`;
  if (state.selected) fillDoctorChoices();
}

function isEmergency(b) {
  const id = b.id || b.booking_id;
  return Boolean(b.is_emergency || b.priority === "emergency" || state.escalated.has(id));
}

function onAlert(m) {
  state.alerts += 1;
  if (m.booking_id && (m.kind === "emergency" || m.kind === "escalation")) state.escalated.add(m.booking_id);
  $("#alert-count").textContent = `(${state.alerts})`;
  const item = pushLog($("#alerts"), `${m.kind.replace(/_/g, " ")}: ${tidy(m.detail)}`, {
    data: { kind: m.kind, bookingId: m.booking_id || "" }, max: 50,
  });
  if (m.booking_id) {
    item.append(" ", el("button", { type: "button", class: "small", onclick: () => select(m.booking_id) }, shortId(m.booking_id)));
  }
}

function onMessage(m) {
  switch (m.type) {
    case "feed":
      onFeed(m);
      break;
    case "alert":
      onAlert(m);
      later("bookings", loadBookings);
      break;
    case "status":
      later("bookings", loadBookings);
      if (m.booking_id === state.selected) later("detail", loadDetail);
      break;
    case "error":
      if (!m.ref) pushLog($("#alerts"), `error: ${m.detail}`, { data: { kind: "error" } });
      break;
    default:
      break;
  }
}

function sendViewport() {
  if (state.channel && state.channel.isOpen) state.channel.send({ type: "viewport", ...state.map.viewport() });
}

// -- the bookings ---------------------------------------------------------------------------

async function loadBookings() {
  try {
    const only = $("#emergency-only").checked ? "&emergency_only=true" : "";
    const page = await api(`/operator/bookings?limit=200${only}`);
    state.bookings = page.bookings;
    renderBookings();
  } catch (exc) {
    pushLog($("#alerts"), `could not load bookings: ${exc.message}`, { data: { kind: "error" } });
  }
}

function renderBookings() {
  const list = $("#bookings");
  $("#bookings-count").textContent = `(${state.bookings.length})`;
  list.replaceChildren(...state.bookings.map((b) => {
    const emergency = isEmergency(b);
    return el("li", {
      class: [emergency ? "emergency" : "", b.id === state.selected ? "selected" : ""].join(" ").trim() || null,
      dataset: { bookingId: b.id, status: b.status },
      onclick: () => select(b.id),
    },
    el("span", {}, el("b", { text: shortId(b.id) }), ` ${b.call_type.replace(/_/g, " ")}, ${b.priority}`,
      emergency ? " — EMERGENCY" : ""),
    el("span", { class: "status", dataset: { status: b.status }, text: b.status.replace(/_/g, " ") }),
    el("span", { class: "where", text: `${b.address || `${b.latitude.toFixed(4)}, ${b.longitude.toFixed(4)}`} · ${formatTime(b.created_at)}` }));
  }));
  if (!state.bookings.length) list.append(el("li", { class: "muted", text: "no open bookings" }));
}

async function select(id) {
  state.selected = id;
  renderBookings();
  $("#assign-result").textContent = "";
  $("#assign-error").textContent = "";
  await loadDetail();
  onFeed(state.feed);
}

async function loadDetail() {
  const id = state.selected;
  if (!id) return;
  try {
    const [booking, decision] = await Promise.all([
      api(`/bookings/${encodeURIComponent(id)}`),
      api(`/operator/bookings/${encodeURIComponent(id)}/decision`),
    ]);
    if (state.selected !== id) return;
    state.detail = booking;
    state.decision = decision;
    renderDetail();
  } catch (exc) {
    $("#assign-error").textContent = exc.message;
  }
}

function renderDetail() {
  const b = state.detail;
  const d = state.decision;
  const card = $("#booking-detail");
  show(card, true);
  card.dataset.bookingId = b.id;
  $("#detail-id").textContent = shortId(b.id);
  const badge = $("#detail-status");
  badge.textContent = b.status.replace(/_/g, " ");
  badge.dataset.status = b.status;
  $("#detail-address").textContent = b.address || `${b.latitude}, ${b.longitude}`;
  $("#detail-type").textContent = `${b.call_type.replace(/_/g, " ")}, ${b.priority}${b.is_emergency ? ", EMERGENCY" : ""}`;
  $("#detail-symptoms").textContent = b.symptoms || "–";
  const doctor = $("#detail-doctor");
  doctor.dataset.doctorId = b.doctor ? b.doctor.id : "";
  doctor.textContent = b.doctor
    ? [b.doctor.first_name, b.doctor.last_name].filter(Boolean).join(" ") || `doctor ${shortId(b.doctor.id)}`
    : "none";
  $("#detail-created").textContent = formatTime(b.created_at);
  $("#detail-history").replaceChildren(...b.history.map((h) => el("li", { dataset: { status: h.status } },
    el("b", { text: h.status.replace(/_/g, " ") }), h.reason ? ` — ${tidy(h.reason)}` : "",
    h.by ? ` (by ${who(h.by)})` : "", el("time", { text: formatTime(h.at) }))));
  $("#decision-at").textContent = d.decided_at ? `decided ${formatTime(d.decided_at)}` : "no decision yet";
  const rows = [...d.considered].sort((x, y) => (x.rank ?? 1e9) - (y.rank ?? 1e9) || x.distance_m - y.distance_m);
  const tbody = $("#candidates tbody");
  tbody.replaceChildren(...rows.map((c) => el("tr", {
    class: c.excluded ? "excluded" : "candidate", dataset: { doctorId: c.doctor_id, rank: c.rank ?? "" },
  },
  el("td", { text: c.rank ?? "–" }),
  el("td", {}, nameInto(el("span"), c.doctor_id)),
  el("td", { class: "num eta", text: formatDuration(c.eta_s) }),
  el("td", { class: "num", text: formatDistance(c.distance_m) }),
  el("td", { class: "num", text: c.cost_s === null ? "–" : `${Math.round(c.cost_s)} s` }),
  el("td", { class: "why", text: c.excluded ? c.excluded.replace(/_/g, " ") : whyRanked(c) }))));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "no doctors were considered yet" })));
  fillDoctorChoices();
}

function who(by) {
  const [role, id] = String(by).includes(":") ? String(by).split(":", 2) : ["", String(by)];
  return [role, shortId(id)].filter(Boolean).join(" ");
}

function whyRanked(c) {
  const parts = [`ETA ${formatDuration(c.eta_s)}`];
  if (c.visit_remainder_s) parts.push(`+${Math.round(c.visit_remainder_s)} s visit left`);
  if (c.rating !== null && c.rating !== undefined) parts.push(`rating ${c.rating.toFixed(1)}`);
  if (c.visits_today) parts.push(`${c.visits_today} visits today`);
  return parts.join(", ");
}

function fillDoctorChoices() {
  const choice = $("#assign-doctor");
  const current = choice.value;
  const b = state.detail;
  if (!b) return;
  const seen = new Set();
  const options = [];
  const feedStatus = new Map(state.feed.doctors.map((d) => [d.doctor_id, d]));
  const rows = state.decision ? [...state.decision.considered].sort((x, y) => (x.rank ?? 1e9) - (y.rank ?? 1e9)) : [];
  for (const c of rows) {
    seen.add(c.doctor_id);
    const live = feedStatus.get(c.doctor_id);
    const parts = [c.rank ? `ranked #${c.rank}` : (c.excluded || "not ranked").replace(/_/g, " ")];
    if (c.eta_s !== null) parts.push(`ETA ${formatDuration(c.eta_s)}`);
    if (live) parts.push(live.status.replace(/_/g, " "));
    options.push({ id: c.doctor_id, text: parts.join(" · ") });
  }
  for (const d of state.feed.doctors) {
    if (!seen.has(d.doctor_id)) options.push({ id: d.doctor_id, text: `${d.status.replace(/_/g, " ")}${d.stale ? " (stale)" : ""}` });
  }
  const usable = options.filter((o) => !b.doctor || o.id !== b.doctor.id);
  const key = usable.map((o) => o.id + o.text).join("|");
  if (choice.dataset.key === key) return;
  choice.dataset.key = key;
  choice.replaceChildren(...usable.map((o) => {
    const option = el("option", { value: o.id, text: `doctor ${shortId(o.id)} — ${o.text}` });
    doctorName(o.id).then((name) => { option.textContent = `${name} — ${o.text}`; });
    return option;
  }));
  if (usable.some((o) => o.id === current)) choice.value = current;
}

async function override(kind) {
  const b = state.detail;
  if (!b) return;
  $("#assign-error").textContent = "";
  $("#assign-result").textContent = "";
  const reason = $("#assign-reason").value.trim();
  if (!reason) {
    $("#assign-error").textContent = "a reason is required: it is kept in the booking's history";
    return;
  }
  const path = `/operator/bookings/${encodeURIComponent(b.id)}`;
  try {
    let booking;
    if (kind === "assign") {
      const doctorId = $("#assign-doctor").value;
      if (!doctorId) throw new Error("pick a doctor");
      booking = await api(`${path}/assign`, {
        method: "POST",
        body: { doctor_id: doctorId, reason, release_current: $("#assign-release").checked },
      });
    } else {
      booking = await api(`${path}/${kind}`, { method: "POST", body: { reason } });
    }
    $("#assign-result").textContent = `done: the booking is ${booking.status.replace(/_/g, " ")}`;
    $("#assign-result").dataset.status = booking.status;
    $("#assign-reason").value = "";
    await Promise.all([loadDetail(), loadBookings()]);
  } catch (exc) {
    $("#assign-error").textContent = exc.message;
  }
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  const user = await requireLogin($("#login-root"), { roles: ["operator", "admin"], title: "Operator: log in" });
  showAccount(user);
  show($("#workspace"), true);
  state.map = new MapView($("#map"), {
    onMarkerClick: (id) => {
      if (id.startsWith("b:")) select(id.slice(2));
      else if (id.startsWith("d:") && state.detail) {
        const choice = $("#assign-doctor");
        const doctorId = id.slice(2);
        if ([...choice.options].some((o) => o.value === doctorId)) choice.value = doctorId;
      }
    },
    onViewChange: sendViewport,
  });
  await state.map.load();
  $("#emergency-only").addEventListener("change", loadBookings);
  $("#assign-form").addEventListener("submit", (e) => { e.preventDefault(); override("assign"); });
  $("#return-to-search").addEventListener("click", () => override("return-to-search"));
  $("#cancel-booking").addEventListener("click", () => override("cancel"));
  state.channel = new Channel("/ws/operator", {
    onMessage, onOpen: sendViewport, onState: connectionBadge($("#connection")),
  });
  await Promise.all([state.channel.connect(), loadBookings()]);
  setInterval(loadBookings, 15_000);
  window.tot = state; // for the console (and the browser tests)
  document.body.dataset.ready = "true";
}

start().catch((exc) => {
  console.error(exc);
  const root = $("#login-root");
  if (root) root.append(Object.assign(document.createElement("p"), { className: "error", textContent: exc.message }));
});
