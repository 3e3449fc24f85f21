// The patient's page: book a visit, then follow it over /ws/patient/<id>: the status
// timeline, the doctor approaching on the map, the ETA counting down.
import {
  $, Channel, MapView, api, connectionBadge, el, formatDistance, formatDuration, formatTime,
  pushLog, requireLogin, show, showAccount, shortId, tidy,
} from "/static/app.js";

const params = new URLSearchParams(location.search);
const LABELS = {
  requested: "Requested",
  scheduled: "Scheduled",
  searching: "Looking for a doctor",
  offered: "Asking a doctor",
  assigned: "Doctor assigned",
  en_route: "Doctor on the way",
  arrived: "Doctor has arrived",
  in_progress: "Visit in progress",
  completed: "Completed",
  cancelled: "Cancelled",
  no_doctor_found: "No doctor found",
};
const WITH_DOCTOR = ["assigned", "en_route", "arrived", "in_progress"];
const FINAL = ["completed", "cancelled", "no_doctor_found"];

const state = {
  map: null,
  booking: null,
  channel: null,
  etaDeadline: null,
  idempotencyKey: null,
};

const label = (status) => LABELS[status] || status;

// -- booking ------------------------------------------------------------------------------

function pick(lat, lon) {
  $("#book-lat").value = lat;
  $("#book-lon").value = lon;
  state.map.setMarker("home", { lat, lon, kind: "home", size: 10, colour: "#d9822b", label: "visit here", z: 5 });
  state.idempotencyKey = null; // a new request, not a retry
}

function visitBody() {
  return {
    latitude: Number($("#book-lat").value),
    longitude: Number($("#book-lon").value),
    address: $("#book-address").value,
    symptoms: $("#book-symptoms").value,
    call_type: $("#book-call-type").value,
    priority: $("#book-urgent").checked ? "urgent" : "normal",
  };
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `k${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

async function estimate() {
  $("#book-error").textContent = "";
  try {
    const e = await api("/bookings/estimate", { method: "POST", body: visitBody() });
    $("#estimate-result").textContent =
      `${Math.round(e.price)} ${e.currency}; ` +
      (e.eta_s === null ? "no doctor free right now" : `a doctor could be with you in about ${formatDuration(e.eta_s)}`) +
      ` (${e.doctors_available} available)`;
  } catch (exc) {
    $("#book-error").textContent = exc.message;
  }
}

async function book(event) {
  event.preventDefault();
  $("#book-error").textContent = "";
  // The same key on a retry: the server answers with the booking it already made.
  state.idempotencyKey = state.idempotencyKey || newKey();
  $("#book-submit").disabled = true;
  try {
    const booking = await api("/bookings", {
      method: "POST", body: visitBody(), headers: { "Idempotency-Key": state.idempotencyKey },
    });
    state.idempotencyKey = null;
    history.replaceState(null, "", `/patient?booking=${encodeURIComponent(booking.id)}`);
    await track(booking.id, booking);
    loadMyBookings();
  } catch (exc) {
    $("#book-error").textContent = exc.message;
  } finally {
    $("#book-submit").disabled = false;
  }
}

async function loadMyBookings() {
  try {
    const page = await api("/bookings?limit=10");
    const list = $("#my-bookings");
    list.replaceChildren(...page.bookings.map((b) => el("li", { dataset: { bookingId: b.id } },
      el("a", { href: `/patient?booking=${encodeURIComponent(b.id)}` }, b.address || shortId(b.id)),
      " ", el("span", { class: "status", dataset: { status: b.status }, text: label(b.status) }),
      " ", el("time", { text: formatTime(b.created_at) }))));
    if (!page.bookings.length) list.append(el("li", { class: "muted", text: "none yet" }));
  } catch (exc) {
    console.warn(exc);
  }
}

// -- tracking -----------------------------------------------------------------------------

async function track(bookingId, known = null) {
  const booking = known || (await api(`/bookings/${encodeURIComponent(bookingId)}`));
  state.booking = booking;
  show($("#book-card"), false);
  show($("#tracking"), true);
  $("#tracking").dataset.bookingId = booking.id;
  $("#booking-id").textContent = booking.id;
  $("#booking-address").textContent = booking.address || `${booking.latitude}, ${booking.longitude}`;
  state.map.setMarker("home", {
    lat: booking.latitude, lon: booking.longitude, kind: "home", size: 11, colour: "#d9822b", label: "you", z: 5,
  });
  renderBooking();
  $("#timeline").replaceChildren();
  for (const entry of booking.history) addTimeline(entry.status, entry.reason, entry.at);
  if (state.channel) state.channel.close();
  state.channel = new Channel(`/ws/patient/${encodeURIComponent(booking.id)}`, {
    onMessage, onState: connectionBadge($("#connection")),
  });
  await state.channel.connect();
}

async function refreshBooking() {
  if (!state.booking) return;
  try {
    state.booking = await api(`/bookings/${encodeURIComponent(state.booking.id)}`);
    renderBooking();
  } catch (exc) {
    $("#tracking-error").textContent = exc.message;
  }
}

function renderBooking() {
  const b = state.booking;
  setStatus(b.status);
  $("#booking-price").textContent = b.final_price !== null
    ? `${b.final_price} ${b.currency}`
    : b.estimated_price !== null ? `about ${Math.round(b.estimated_price)} ${b.currency}` : "–";
  const d = b.doctor;
  $("#doctor-name").textContent = d && WITH_DOCTOR.concat(["completed"]).includes(b.status)
    ? `Dr ${[d.first_name, d.last_name].filter(Boolean).join(" ") || shortId(d.id)}` +
      (d.specialization ? `, ${d.specialization}` : "") + (d.rating ? ` ★ ${d.rating.toFixed(1)}` : "")
    : "not yet assigned";
  $("#cancel-booking").disabled = FINAL.includes(b.status);
}

function setStatus(status) {
  const badge = $("#booking-status");
  badge.dataset.status = status;
  badge.textContent = label(status);
  if (state.booking) state.booking.status = status;
  if (!WITH_DOCTOR.includes(status)) forgetDoctor();
  if (FINAL.includes(status)) show($("#arriving"), false);
  if (["arrived", "in_progress"].includes(status)) {
    state.etaDeadline = null;
    $("#eta").textContent = "here";
  }
}

function addTimeline(status, reason, at) {
  const item = el("li", { dataset: { status } }, el("b", { text: label(status) }),
    reason && reason !== status ? ` — ${tidy(reason)}` : "", el("time", { text: formatTime(at) }));
  $("#timeline").append(item);
}

function forgetDoctor() {
  state.map.removeMarker("doctor");
  state.map.removeMarker("doctor-area");
  state.map.setLine("route", null);
  state.etaDeadline = null;
  $("#eta").textContent = "–";
  $("#eta").dataset.seconds = "";
  $("#distance").textContent = "–";
  show($("#coarse-note"), false);
}

function onPosition(m) {
  if (m.coarse) {
    state.map.setMarker("doctor-area", {
      lat: m.lat, lon: m.lon, kind: "area", radius_m: m.accuracy_m || 500, colour: "#1f6fd1", z: 1,
    });
  } else {
    state.map.removeMarker("doctor-area");
  }
  state.map.setMarker("doctor", {
    lat: m.lat, lon: m.lon, size: 9, colour: "#1f6fd1", label: "doctor", faded: m.coarse, z: 8,
  });
  show($("#coarse-note"), Boolean(m.coarse));
  if (m.eta_s !== null && m.eta_s !== undefined) {
    state.etaDeadline = Date.now() + m.eta_s * 1000;
    tickEta();
  }
  $("#distance").textContent = formatDistance(m.distance_m);
}

function tickEta() {
  if (state.etaDeadline === null) return;
  const left = Math.max(0, (state.etaDeadline - Date.now()) / 1000);
  $("#eta").textContent = formatDuration(left);
  $("#eta").dataset.seconds = String(Math.round(left));
}

function notice(text, cls) {
  pushLog($("#notices"), text, { cls });
}

function onMessage(m) {
  if (!state.booking || (m.booking_id && m.booking_id !== state.booking.id)) return;
  switch (m.type) {
    case "snapshot":
      if (m.status !== state.booking.status) refreshBooking();
      break;
    case "status":
      addTimeline(m.status, m.reason, m.at);
      setStatus(m.status);
      if (WITH_DOCTOR.includes(m.status) || FINAL.includes(m.status)) refreshBooking();
      clearTimeout(state.listTimer);
      state.listTimer = setTimeout(loadMyBookings, 500);
      break;
    case "doctor_assigned":
      notice("a doctor is coming to you");
      refreshBooking();
      break;
    case "doctor_released":
      notice(`your doctor was changed: ${tidy(m.reason) || "we are finding another"}`);
      forgetDoctor();
      refreshBooking();
      break;
    case "notice":
      notice(m.message);
      break;
    case "message":
      notice(`${m.sender_role}: ${m.content}`);
      break;
    case "arriving":
      show($("#arriving"), true);
      notice("your doctor is arriving", "arriving");
      break;
    case "position":
      onPosition(m);
      break;
    case "route":
      state.map.setLine("route", m.points, { colour: "#1f6fd1" });
      break;
    case "resync":
      refreshBooking();
      break;
    default:
      break;
  }
}

async function cancel() {
  $("#tracking-error").textContent = "";
  try {
    const booking = await api(`/bookings/${encodeURIComponent(state.booking.id)}/cancel`, {
      method: "POST", body: { reason: $("#cancel-reason").value.trim() || "cancelled by the patient" },
    });
    state.booking = booking;
    renderBooking();
  } catch (exc) {
    $("#tracking-error").textContent = exc.message;
  }
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  const user = await requireLogin($("#login-root"), {
    roles: ["patient"],
    title: "Patient: log in",
    register: (email, password) => api("/auth/register", { method: "POST", body: { email, password }, auth: false }),
  });
  showAccount(user);
  show($("#workspace"), true);
  state.map = new MapView($("#map"), {
    onClick: (lat, lon) => { if (!state.booking) pick(lat, lon); },
  });
  await state.map.load();
  $("#book-form").addEventListener("submit", book);
  $("#estimate").addEventListener("click", estimate);
  $("#cancel-booking").addEventListener("click", cancel);
  for (const id of ["#book-lat", "#book-lon"]) {
    $(id).addEventListener("change", () => {
      const lat = Number($("#book-lat").value);
      const lon = Number($("#book-lon").value);
      if ($("#book-lat").value && $("#book-lon").value) pick(lat, lon);
    });
  }
  if (params.has("lat") && params.has("lon")) pick(Number(params.get("lat")), Number(params.get("lon")));
  setInterval(tickEta, 1000);
  loadMyBookings();
  if (params.get("booking")) await track(params.get("booking"));
  window.tot = state; // for the console (and the browser tests)
  document.body.dataset.ready = "true";
}

start().catch((exc) => {
  console.error(exc);
  const root = $("#login-root");
  if (root) root.append(Object.assign(document.createElement("p"), { className: "error", textContent: exc.message }));
});
