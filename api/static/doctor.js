// The doctor's page: go online at a position (this device's location or a simulated one),
// stream fixes over /ws/doctor, answer offers, move the visit on.
import {
  $, Channel, MapView, STATUS_COLOURS, api, connectionBadge, formatDistance, formatDuration,
  pushLog, requireLogin, roads, session, show, showAccount, shortId,
} from "/static/app.js";

const params = new URLSearchParams(location.search);
const STREAM_EVERY_MS = 3000; // position fixes while standing
const DRIVE_TICK_MS = 1000; // and while driving
const ACTIVE = ["assigned", "en_route", "arrived", "in_progress"];
const NEXT_STEP = { assigned: "en_route", en_route: "arrived", arrived: "in_progress", in_progress: "completed" };
const ONLINE_KEY = "tot.doctor.online";
const POSITION_KEY = "tot.doctor.position";

const state = {
  user: null,
  channel: null,
  map: null,
  position: null, // {lat, lon, accuracy_m}
  source: "simulated",
  online: false,
  status: "offline",
  fixes: 0,
  offer: null,
  offerDeadline: 0,
  visit: null,
  drive: null, // {points, leg, along, toVisit}
  geoWatch: null,
};

const log = (text, cls) => pushLog($("#events"), text, { cls });

// -- position -------------------------------------------------------------------------

function setPosition(lat, lon, accuracy_m = 10) {
  state.position = { lat, lon, accuracy_m };
  sessionStorage.setItem(POSITION_KEY, JSON.stringify(state.position));
  $("#position").textContent = `${lat.toFixed(5)}, ${lon.toFixed(5)} (±${Math.round(accuracy_m)} m)`;
  drawMe();
}

function drawMe() {
  if (!state.map || !state.position) return;
  state.map.setMarker("me", {
    lat: state.position.lat, lon: state.position.lon, size: 9, z: 10,
    colour: STATUS_COLOURS[state.status] || STATUS_COLOURS.offline, label: "you",
  });
}

function setStatus(status) {
  state.status = status;
  const badge = $("#doctor-status");
  badge.textContent = status.replace("_", " ");
  badge.dataset.status = status;
  drawMe();
}

function sendFix() {
  if (!state.online || !state.position || !state.channel.isOpen) return;
  const { lat, lon, accuracy_m } = state.position;
  state.channel.send({ type: "position", lat, lon, accuracy_m, recorded_at: new Date().toISOString() });
  state.fixes += 1;
  $("#fix-count").textContent = String(state.fixes);
}

function useGeolocation() {
  if (!("geolocation" in navigator)) {
    $("#shift-error").textContent = "this browser has no geolocation: using a simulated position";
    $("#use-simulated").checked = true;
    return;
  }
  stopDriving();
  state.source = "geolocation";
  $("#position-help").textContent = "Following this device's location.";
  state.geoWatch = navigator.geolocation.watchPosition(
    (p) => setPosition(p.coords.latitude, p.coords.longitude, Math.min(p.coords.accuracy || 50, 10_000)),
    (err) => {
      $("#shift-error").textContent = `location unavailable (${err.message}): using a simulated position`;
      $("#use-simulated").checked = true;
      useSimulated();
    },
    { enableHighAccuracy: true, maximumAge: 5000, timeout: 20_000 },
  );
}

function useSimulated() {
  if (state.geoWatch !== null) navigator.geolocation.clearWatch(state.geoWatch);
  state.geoWatch = null;
  state.source = "simulated";
  $("#position-help").textContent = state.online
    ? "Click the map to drive there along the roads."
    : "Click the map to place yourself.";
}

// -- simulated driving along the roads -----------------------------------------------------

function metres(a, b) {
  const rad = Math.PI / 180;
  const x = (b[1] - a[1]) * rad * Math.cos(((a[0] + b[0]) / 2) * rad);
  const y = (b[0] - a[0]) * rad;
  return Math.hypot(x, y) * 6_371_000;
}

async function driveTo(lat, lon, { toVisit = false } = {}) {
  if (!state.position) return;
  const from = state.position;
  const q = new URLSearchParams({ from_lat: from.lat, from_lon: from.lon, to_lat: lat, to_lon: lon });
  const route = await api(`/map/route?${q}`);
  const points = [[from.lat, from.lon], ...route.points, [lat, lon]];
  state.drive = { points, leg: 0, along: 0, toVisit };
  state.map.setLine("route", points, { colour: "#1f6fd1" });
  $("#visit-route").textContent = `${formatDistance(route.distance_m)}, ${formatDuration(route.eta_s)} by road`;
  log(`driving ${formatDistance(route.distance_m)} at ${speedKph()} km/h`);
}

function speedKph() {
  return Number($("#sim-speed").value) || Number(params.get("speed")) || 80;
}

function stopDriving() {
  state.drive = null;
}

function driveStep() {
  const d = state.drive;
  if (!d || state.source !== "simulated") return;
  let step = (speedKph() / 3.6) * (DRIVE_TICK_MS / 1000);
  while (step > 0 && d.leg < d.points.length - 1) {
    const a = d.points[d.leg];
    const b = d.points[d.leg + 1];
    const length = metres(a, b);
    if (d.along + step < length) {
      d.along += step;
      step = 0;
    } else {
      step -= length - d.along;
      d.leg += 1;
      d.along = 0;
    }
  }
  let here;
  if (d.leg >= d.points.length - 1) {
    here = d.points[d.points.length - 1];
  } else {
    const a = d.points[d.leg];
    const b = d.points[d.leg + 1];
    const t = d.along / Math.max(metres(a, b), 1e-9);
    here = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
  }
  setPosition(here[0], here[1], 8);
  state.map.setLine("route", [here, ...d.points.slice(d.leg + 1)], { colour: "#1f6fd1" });
  sendFix();
  if (d.leg >= d.points.length - 1) {
    state.drive = null;
    state.map.setLine("route", null);
    log(d.toVisit ? "you are at the patient's address: press Arrived" : "you have reached the spot");
  }
}

// -- shift --------------------------------------------------------------------------------

async function goOnline() {
  $("#shift-error").textContent = "";
  if (!state.position) {
    $("#shift-error").textContent = "place yourself on the map first";
    return;
  }
  try {
    const { lat, lon, accuracy_m } = state.position;
    const reply = await state.channel.request({ type: "shift", action: "start", lat, lon, accuracy_m });
    state.online = true;
    sessionStorage.setItem(ONLINE_KEY, "1");
    setStatus(reply.status);
    log("online: offers can come");
    renderShift();
  } catch (exc) {
    $("#shift-error").textContent = exc.message;
  }
}

async function goOffline() {
  $("#shift-error").textContent = "";
  try {
    const reply = await state.channel.request({ type: "shift", action: "end" });
    setStatus(reply.status);
  } catch (exc) {
    $("#shift-error").textContent = exc.message;
  }
  state.online = false;
  sessionStorage.removeItem(ONLINE_KEY);
  stopDriving();
  log("offline");
  renderShift();
}

function renderShift() {
  $("#go-online").disabled = state.online;
  $("#go-offline").disabled = !state.online;
  $("#on-break").disabled = !state.online;
  if (state.source === "simulated") useSimulated();
}

// -- offers -------------------------------------------------------------------------------

function showOffer(offer) {
  state.offer = offer;
  state.offerDeadline = Date.now() + (offer.ttl_s || 0) * 1000;
  const card = $("#offer");
  card.classList.toggle("emergency", Boolean(offer.is_emergency));
  card.dataset.offerId = offer.offer_id;
  card.dataset.bookingId = offer.booking_id;
  $("#offer-address").textContent = offer.address || `${offer.lat ?? offer.latitude}, ${offer.lon ?? offer.longitude}`;
  $("#offer-type").textContent = `${offer.call_type || "visit"}, ${offer.priority || "normal"}${offer.is_emergency ? " — EMERGENCY" : ""}`;
  $("#offer-symptoms").textContent = offer.symptoms || "–";
  $("#offer-eta").textContent = formatDuration(offer.eta_s);
  $("#offer-error").textContent = "";
  show(card, true);
  const lat = offer.lat ?? offer.latitude;
  const lon = offer.lon ?? offer.longitude;
  state.map.setMarker("offer", { lat, lon, kind: "home", size: 10, colour: "#e0a100", label: "offer", z: 5 });
  if (state.status === "available") setStatus("offered");
  log(`offer: ${offer.address || shortId(offer.booking_id)}`, "offer");
  tickOffer();
}

function hideOffer(why) {
  if (!state.offer) return;
  state.offer = null;
  show($("#offer"), false);
  state.map.removeMarker("offer");
  if (state.status === "offered") setStatus("available");
  if (why) log(why);
}

function tickOffer() {
  if (!state.offer) return;
  const left = (state.offerDeadline - Date.now()) / 1000;
  $("#offer-ttl").textContent = `${Math.max(0, Math.ceil(left))} s`;
  if (left <= -1) hideOffer("the offer lapsed");
}

async function accept() {
  const offer = state.offer;
  if (!offer) return;
  try {
    const reply = await state.channel.request({ type: "accept", offer_id: offer.offer_id });
    hideOffer("accepted");
    await loadVisit(reply.booking_id);
  } catch (exc) {
    $("#offer-error").textContent = exc.message;
  }
}

async function decline() {
  const offer = state.offer;
  if (!offer) return;
  const reason = $("#decline-reason").value.trim() || "declined";
  try {
    await state.channel.request({ type: "decline", offer_id: offer.offer_id, reason });
    hideOffer(`declined: ${reason}`);
  } catch (exc) {
    $("#offer-error").textContent = exc.message;
  }
}

// -- the visit ------------------------------------------------------------------------------

async function loadVisit(bookingId) {
  try {
    const booking = await api(`/bookings/${encodeURIComponent(bookingId)}`);
    state.visit = booking;
    renderVisit();
    if (state.position && ACTIVE.includes(booking.status)) {
      const q = new URLSearchParams({
        from_lat: state.position.lat, from_lon: state.position.lon,
        to_lat: booking.latitude, to_lon: booking.longitude,
      });
      const route = await api(`/map/route?${q}`);
      if (!state.drive) state.map.setLine("route", route.points, { colour: "#1f6fd1", dash: [6, 4] });
      $("#visit-route").textContent = `${formatDistance(route.distance_m)}, ${formatDuration(route.eta_s)} by road`;
    }
  } catch (exc) {
    log(`could not load booking ${shortId(bookingId)}: ${exc.message}`, "error");
  }
}

function renderVisit() {
  const v = state.visit;
  show($("#visit"), Boolean(v));
  if (!v) {
    state.map.removeMarker("patient");
    state.map.setLine("route", null);
    return;
  }
  const badge = $("#visit-status");
  badge.textContent = v.status.replace("_", " ");
  badge.dataset.status = v.status;
  $("#visit").dataset.bookingId = v.id;
  $("#visit-id").textContent = shortId(v.id);
  $("#visit-address").textContent = v.address || `${v.latitude}, ${v.longitude}`;
  $("#visit-symptoms").textContent = v.symptoms || "–";
  for (const button of document.querySelectorAll("#visit button[data-status]")) {
    button.disabled = NEXT_STEP[v.status] !== button.dataset.status;
  }
  $("#drive").disabled = !["assigned", "en_route"].includes(v.status) || state.source !== "simulated";
  state.map.setMarker("patient", {
    lat: v.latitude, lon: v.longitude, kind: "home", size: 10, colour: "#d9822b", label: "patient", z: 5,
  });
  if (["assigned", "en_route"].includes(v.status)) setStatus("en_route");
  else if (["arrived", "in_progress"].includes(v.status)) setStatus("on_visit");
}

function visitEnded(status) {
  state.visit = null;
  stopDriving();
  renderVisit();
  if (state.online) setStatus("available");
  log(`the visit is ${status}`);
}

async function progress(status) {
  const v = state.visit;
  if (!v) return;
  $("#visit-error").textContent = "";
  const message = { type: "progress", booking_id: v.id, status };
  const price = Number($("#final-price").value);
  if (status === "completed" && $("#final-price").value !== "" && Number.isFinite(price)) message.final_price = price;
  try {
    const reply = await state.channel.request(message);
    applyVisitStatus(reply.booking_id, reply.status);
  } catch (exc) {
    $("#visit-error").textContent = exc.message;
  }
}

function applyVisitStatus(bookingId, status) {
  if (!state.visit || state.visit.id !== bookingId) return;
  if (["completed", "cancelled", "no_doctor_found", "searching"].includes(status)) {
    visitEnded(status);
    return;
  }
  state.visit.status = status;
  renderVisit();
}

async function drive() {
  const v = state.visit;
  if (!v) return;
  if (v.status === "assigned") await progress("en_route");
  try {
    await driveTo(v.latitude, v.longitude, { toVisit: true });
  } catch (exc) {
    $("#visit-error").textContent = exc.message;
  }
}

// -- messages from the gateway --------------------------------------------------------------

function onMessage(m) {
  switch (m.type) {
    case "offer":
      showOffer(m);
      break;
    case "offer_ended":
      if (state.offer && state.offer.offer_id === m.offer_id) hideOffer(`offer ${m.outcome}: ${m.reason}`);
      break;
    case "doctor_assigned":
      if (!state.visit || state.visit.id !== m.booking_id) {
        log(`assigned to booking ${shortId(m.booking_id)}`);
        loadVisit(m.booking_id);
      }
      break;
    case "doctor_released":
      if (state.visit && state.visit.id === m.booking_id) {
        log(`released from booking ${shortId(m.booking_id)}: ${m.reason}`);
        visitEnded("handed over");
      }
      break;
    case "status":
      applyVisitStatus(m.booking_id, m.status);
      break;
    case "message":
      log(`message from the ${m.sender_role}: ${m.content}`);
      break;
    case "shift":
    case "availability":
      setStatus(m.status);
      break;
    case "error":
      if (m.code === "position_refused") $("#shift-error").textContent = `fix refused: ${m.detail}`;
      else if (!m.ref) log(`error: ${m.detail}`, "error");
      break;
    default:
      break;
  }
}

async function onOpen() {
  // After a reload or a reconnect: the offer waiting, the visit held, and fixes again
  // (a doctor on shift who reconnects is available again).
  if (state.online) sendFix();
  try {
    const offers = await api("/offers");
    if (offers.length && !state.offer) showOffer({ ...offers[0], lat: offers[0].latitude, lon: offers[0].longitude });
    if (!state.visit) {
      const page = await api(`/bookings?${ACTIVE.map((s) => `status=${s}`).join("&")}&limit=5`);
      if (page.bookings.length) await loadVisit(page.bookings[0].id);
    }
  } catch (exc) {
    log(`could not load the current state: ${exc.message}`, "error");
  }
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  const user = await requireLogin($("#login-root"), { roles: ["doctor"], title: "Doctor: log in" });
  state.user = user;
  showAccount(user);
  show($("#workspace"), true);
  state.map = new MapView($("#map"), {
    onClick: (lat, lon) => {
      if (state.source !== "simulated") return;
      if (state.online) driveTo(lat, lon).catch((exc) => { $("#shift-error").textContent = exc.message; });
      else setPosition(lat, lon);
    },
  });
  const data = await state.map.load();
  const saved = JSON.parse(sessionStorage.getItem(POSITION_KEY) || "null");
  if (params.has("lat") && params.has("lon")) setPosition(Number(params.get("lat")), Number(params.get("lon")));
  else if (saved) setPosition(saved.lat, saved.lon, saved.accuracy_m);
  else setPosition((data.bbox.south + data.bbox.north) / 2, (data.bbox.west + data.bbox.east) / 2);
  state.online = sessionStorage.getItem(ONLINE_KEY) === "1";
  setStatus(state.online ? "available" : "offline");
  renderShift();

  $("#go-online").addEventListener("click", goOnline);
  $("#go-offline").addEventListener("click", goOffline);
  $("#on-break").addEventListener("change", async (e) => {
    try {
      const reply = await state.channel.request({ type: "availability", available: !e.target.checked });
      setStatus(reply.status);
    } catch (exc) {
      $("#shift-error").textContent = exc.message;
    }
  });
  $("#use-geolocation").addEventListener("change", useGeolocation);
  $("#use-simulated").addEventListener("change", useSimulated);
  $("#accept").addEventListener("click", accept);
  $("#decline").addEventListener("click", decline);
  $("#drive").addEventListener("click", drive);
  for (const button of document.querySelectorAll("#visit button[data-status]")) {
    button.addEventListener("click", () => progress(button.dataset.status));
  }
  const speed = params.get("speed");
  if (speed && Number(speed) > 0) {
    const select = $("#sim-speed");
    if (![...select.options].some((o) => o.value === speed)) select.append(new Option(`${speed} km/h`, speed));
    select.value = speed;
  }

  state.channel = new Channel("/ws/doctor", {
    onMessage, onOpen, onState: connectionBadge($("#connection")),
  });
  await state.channel.connect();

  setInterval(() => { if (!state.drive) sendFix(); }, STREAM_EVERY_MS);
  setInterval(driveStep, DRIVE_TICK_MS);
  setInterval(tickOffer, 250);
  setInterval(() => { if (!state.online && state.channel.isOpen) state.channel.send({ type: "ping" }); }, 30_000);
  await roads();
  window.tot = state; // for the console (and the browser tests)
  document.body.dataset.ready = "true";
}

start().catch((exc) => {
  console.error(exc);
  const root = $("#login-root");
  if (root) root.append(Object.assign(document.createElement("p"), { className: "error", textContent: exc.message }));
  if (exc.status === 401) session.clear();
});
