/**
 * The console's live state: the operator's socket (feed, alerts, status changes), the
 * searched list of open bookings (server-side filters, cursor pages), the emergencies, the
 * open booking's details, decision and timeline. Stores are read by the screens; the
 * doctors layer goes from the batcher to a worker (parsing and building the frame) and
 * straight to the map's overlay (never through a render). The legend's counts are set
 * only when they change.
 */
import { Channel, type ChannelState, type GatewayMessage } from "../../lib/channel";
import { createStore } from "../../lib/store";
import { freshAccessToken } from "../auth/session";
import * as opApi from "./api";
import { FrameBuilder, LiveBatcher, emptyCounts, sameCounts, type Counts, type LiveFrame } from "./liveLayer";
import type { MapHandle } from "./OperatorMap";
import { addAlert, defaultFilters, emptyList, open as openIn, withPage, type ListState } from "./store";
import type { Alert, Booking, Bounds, Decision, Feed, Filters, Timeline } from "./types";

export interface Summary {
  counts: Counts;
  total: number;
  availableFresh: number;
  openBookings: number;
  emergencies: number;
}

export interface Detail {
  id: string;
  booking: Booking | null;
  decision: Decision | null;
  timeline: Timeline | null;
  error: unknown;
}

export const connection$ = createStore<ChannelState>("connecting");
export const summary$ = createStore<Summary>({
  counts: emptyCounts(),
  total: 0,
  availableFresh: 0,
  openBookings: 0,
  emergencies: 0,
});
/** When the feed on the map was made (changes every second: its own store, so only the
 * clock re-renders). */
export const feedAt$ = createStore<string | null>(null);
export const alerts$ = createStore<Alert[]>([]);
export const list$ = createStore<ListState>(emptyList);
export const filters$ = createStore<Filters>(defaultFilters);
export const loading$ = createStore<{ busy: boolean; error: unknown }>({ busy: false, error: null });
export const emergencies$ = createStore<Booking[]>([]);
export const detail$ = createStore<Detail | null>(null);

const PAGE = 50;
let channel: Channel | null = null;
let mapHandle: MapHandle | null = null;
let bounds: Bounds | null = null;
let searchAbort: AbortController | null = null;
const timers = new Map<string, ReturnType<typeof setTimeout>>();
let refresher: ReturnType<typeof setInterval> | undefined;
let pinger: ReturnType<typeof setInterval> | undefined;

let lastFrame: (LiveFrame & { doctorIds: string[] }) | null = null;
let frames = 0;

function showFrame(frame: LiveFrame & { doctorIds: string[] }): void {
  lastFrame = frame;
  frames += 1;
  mapHandle?.draw(frame);
  const probe = window as unknown as { __totFrameMs?: number[] };
  if (probe.__totFrameMs) probe.__totFrameMs.push(frame.builtMs);
  const s = summary$.get();
  const next: Summary = {
    counts: frame.counts,
    total: frame.total,
    availableFresh: frame.availableFresh,
    openBookings: frame.openBookings,
    emergencies: frame.emergencies,
  };
  const same =
    sameCounts(s.counts, next.counts) &&
    s.total === next.total &&
    s.availableFresh === next.availableFresh &&
    s.openBookings === next.openBookings &&
    s.emergencies === next.emergencies;
  if (!same) summary$.set(next);
  feedAt$.set(frame.at);
}

function feedWorker(): Worker {
  return new Worker(new URL("./feed.worker.ts", import.meta.url), { type: "module", name: "feed" });
}

export const builder = new FrameBuilder(showFrame, typeof Worker === "undefined" ? null : feedWorker);
export const batcher = new LiveBatcher<string | Feed>((feed) => builder.build(feed));

/** How many frames were shown (for the page's data attributes and tests). */
export function framesShown(): number {
  return frames;
}

/** The gateway's feed, as text: passed on unparsed (the worker parses it). orjson writes
 * `{"type":"feed",` first; any other spelling is parsed here and passed on as an object. */
function onText(data: string): boolean {
  if (!data.startsWith('{"type":"feed",')) return false;
  batcher.push(data);
  return true;
}

function later(name: string, fn: () => void, ms: number): void {
  clearTimeout(timers.get(name));
  timers.set(
    name,
    setTimeout(() => {
      timers.delete(name);
      fn();
    }, ms),
  );
}

export function onMessage(m: GatewayMessage): void {
  switch (m.type) {
    case "feed":
      batcher.push(m as unknown as Feed);
      break;
    case "alert":
      alerts$.set((alerts) => addAlert(alerts, m as unknown as Alert));
      later("list", () => void reload(), 500);
      later("emergencies", () => void loadEmergencies(), 500);
      break;
    case "status": {
      later("list", () => void reload(), 500);
      later("emergencies", () => void loadEmergencies(), 500);
      const open = detail$.get();
      if (open && m.booking_id === open.id) later("detail", () => void loadDetail(open.id), 300);
      break;
    }
    default:
      break;
  }
}

function sendViewport(): void {
  const b = mapHandle?.bounds() ?? bounds;
  if (b && channel?.isOpen) channel.send({ type: "viewport", ...b });
}

export function startConsole(): void {
  if (channel) return;
  channel = new Channel("/ws/operator", {
    token: freshAccessToken,
    onState: (state) => connection$.set(state),
    onOpen: sendViewport,
    onMessage,
    onText,
  });
  void channel.connect();
  void reload();
  void loadEmergencies();
  refresher = setInterval(() => {
    void reload();
    void loadEmergencies();
  }, 15_000);
  pinger = setInterval(() => channel?.send({ type: "ping" }), 25_000);
}

export function stopConsole(): void {
  channel?.close();
  channel = null;
  batcher.stop();
  builder.stop();
  clearInterval(refresher);
  clearInterval(pinger);
  for (const timer of timers.values()) clearTimeout(timer);
  timers.clear();
  mapHandle = null;
}

export function attachMap(handle: MapHandle): void {
  mapHandle = handle;
  handle.select(list$.get().openId);
  if (lastFrame) handle.draw(lastFrame);
}

/** The map moved: a new viewport for the feed; the area filter follows it. */
export function mapMoved(next: Bounds): void {
  bounds = next;
  sendViewport();
  if (filters$.get().area) later("list", () => void reload(), 250);
}

export function setFilters(patch: Partial<Filters>): void {
  filters$.set((f) => ({ ...f, ...patch }));
  later("list", () => void reload(), patch.q !== undefined ? 250 : 0);
}

/** The first page of the current search, again (keeping as many rows as were loaded). */
export async function reload(): Promise<void> {
  const shown = list$.get().bookings.length;
  await fetchPage(null, Math.min(500, Math.max(PAGE, shown)));
}

export async function loadMore(): Promise<void> {
  const cursor = list$.get().nextCursor;
  if (cursor) await fetchPage(cursor, PAGE);
}

async function fetchPage(cursor: string | null, limit: number): Promise<void> {
  searchAbort?.abort();
  const abort = new AbortController();
  searchAbort = abort;
  loading$.set({ busy: true, error: null });
  try {
    const page = await opApi.searchBookings(filters$.get(), bounds, cursor, limit, abort.signal);
    if (abort.signal.aborted) return;
    list$.set((s) => withPage(s, page, cursor !== null));
    loading$.set({ busy: false, error: null });
  } catch (exc) {
    if (abort.signal.aborted) return;
    loading$.set({ busy: false, error: exc });
  }
}

export async function loadEmergencies(): Promise<void> {
  try {
    emergencies$.set((await opApi.emergencies()).bookings);
  } catch {
    /* the list stays as it was; the next reload tries again */
  }
}

export function openBooking(id: string | null): void {
  list$.set((s) => openIn(s, id));
  mapHandle?.select(id);
  if (!id) {
    detail$.set(null);
    return;
  }
  detail$.set({ id, booking: null, decision: null, timeline: null, error: null });
  void loadDetail(id, true);
}

export async function loadDetail(id: string, focus = false): Promise<void> {
  try {
    const [booking, decision, timeline] = await Promise.all([opApi.booking(id), opApi.decision(id), opApi.timeline(id)]);
    if (detail$.get()?.id !== id) return;
    detail$.set({ id, booking, decision, timeline, error: null });
    if (focus) mapHandle?.focus(booking.latitude, booking.longitude);
  } catch (exc) {
    if (detail$.get()?.id === id) detail$.set({ ...(detail$.get() as Detail), error: exc });
  }
}

/** After a change: the list, the emergencies and the open booking again. */
export async function afterChange(): Promise<void> {
  const open = detail$.get();
  await Promise.all([reload(), loadEmergencies(), open ? loadDetail(open.id) : Promise.resolve()]);
}
