/**
 * The live doctors and bookings on the map, batched. The gateway sends a `feed` (every
 * doctor and open booking in the viewport) about once a second; with 10,000 doctors a
 * message is large, so nothing is drawn or rendered per message: the newest feed is kept
 * and, at most once per `minGapMs`, turned into one GeoJSON collection per layer and
 * handed to the map in one `setData` each; the counts for the legend are made in the
 * same pass. Offline doctors are left out of both (they are gone, not grey).
 */
import { LIVE_DOCTOR_STATUSES, type Feed, type FeedBooking, type FeedDoctor, type LiveDoctorStatus } from "./types";

export interface DoctorFeature {
  type: "Feature";
  id: number;
  geometry: { type: "Point"; coordinates: [number, number] };
  properties: { id: string; status: LiveDoctorStatus; stale: boolean };
}

export interface BookingFeature {
  type: "Feature";
  geometry: { type: "Point"; coordinates: [number, number] };
  properties: { id: string; status: string; emergency: boolean; selected: boolean };
}

export interface Collection<F> {
  type: "FeatureCollection";
  features: F[];
}

export type Counts = Record<LiveDoctorStatus, number>;

export interface Frame {
  doctors: Collection<DoctorFeature>;
  bookings: Collection<BookingFeature>;
  counts: Counts;
  /** Doctors on the map (offline ones are not). */
  total: number;
  /** Free doctors with a fresh position. */
  availableFresh: number;
  openBookings: number;
  emergencies: number;
  at: string;
  /** How long making it took (ms). */
  builtMs: number;
}

const BUSY: Record<string, LiveDoctorStatus> = {
  assigned: "en_route",
  en_route: "en_route",
  arrived: "on_visit",
  in_progress: "on_visit",
};

export function emptyCounts(): Counts {
  return { available: 0, offered: 0, en_route: 0, on_visit: 0, on_break: 0 };
}

const LIVE = new Set<string>(LIVE_DOCTOR_STATUSES);

function isLive(status: string): status is LiveDoctorStatus {
  return LIVE.has(status);
}

/** One feed as the map's layers and the legend's counts (pure). A doctor the feed calls
 * available but whom an open booking holds is drawn as that booking says (en route, on a
 * visit). */
export function frameOf(feed: Feed, selectedId: string | null = null): Frame {
  const started = typeof performance !== "undefined" ? performance.now() : 0;
  const work = new Map<string, LiveDoctorStatus>();
  for (const b of feed.bookings) {
    const busy = BUSY[b.status];
    if (b.doctor_id && busy) work.set(b.doctor_id, busy);
  }
  const counts = emptyCounts();
  const source = feed.doctors as FeedDoctor[];
  const doctors: DoctorFeature[] = new Array(source.length);
  let availableFresh = 0;
  let n = 0;
  const hasWork = work.size > 0;
  for (let i = 0; i < source.length; i++) {
    const d = source[i]!;
    if (!isLive(d.status) || !Number.isFinite(d.lat) || !Number.isFinite(d.lon)) continue;
    const status = d.status === "available" && hasWork ? (work.get(d.doctor_id) ?? "available") : d.status;
    counts[status] += 1;
    if (status === "available" && !d.stale) availableFresh += 1;
    doctors[n] = {
      type: "Feature",
      id: n,
      geometry: { type: "Point", coordinates: [d.lon, d.lat] },
      properties: { id: d.doctor_id, status, stale: d.stale },
    };
    n++;
  }
  doctors.length = n;
  let emergencies = 0;
  const bookings: BookingFeature[] = (feed.bookings as FeedBooking[])
    .filter((b) => Number.isFinite(b.lat) && Number.isFinite(b.lon))
    .map((b) => {
      const emergency = b.is_emergency || b.priority === "emergency";
      if (emergency) emergencies += 1;
      return {
        type: "Feature",
        geometry: { type: "Point", coordinates: [b.lon, b.lat] },
        properties: { id: b.booking_id, status: b.status, emergency, selected: b.booking_id === selectedId },
      };
    });
  return {
    doctors: { type: "FeatureCollection", features: doctors },
    bookings: { type: "FeatureCollection", features: bookings },
    counts,
    total: doctors.length,
    availableFresh,
    openBookings: bookings.length,
    emergencies,
    at: feed.at,
    builtMs: (typeof performance !== "undefined" ? performance.now() : 0) - started,
  };
}

export interface Clock {
  now(): number;
  later(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

const realClock: Clock = {
  now: () => (typeof performance !== "undefined" ? performance.now() : Date.now()),
  later: (fn, ms) => setTimeout(fn, ms),
  cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Keeps the newest feed and applies it at most once per `minGapMs`: a feed arriving
 * sooner waits for the gap (and is replaced by any newer one meanwhile). `apply` gets one
 * frame: the map's `setData` for each source and the legend's counts, together.
 */
export class LiveBatcher {
  private pending: Feed | null = null;
  private last: Feed | null = null;
  private timer: unknown = null;
  private lastApplied = -Infinity;
  /** How many frames were applied, and how many feeds came (for tests and the page). */
  applied = 0;
  received = 0;
  selectedId: string | null = null;

  constructor(
    private readonly apply: (frame: Frame) => void,
    private readonly minGapMs = 800,
    private readonly clock: Clock = realClock,
  ) {}

  push(feed: Feed): void {
    this.received += 1;
    this.pending = feed;
    if (this.timer !== null) return; // a flush is due: it will take the newest
    const wait = Math.max(0, this.lastApplied + this.minGapMs - this.clock.now());
    this.timer = this.clock.later(() => this.flush(), wait);
  }

  /** Draw again now with what was last seen (the selection changed, say). */
  redraw(): void {
    if (this.pending === null && this.last !== null) this.pending = this.last;
    if (this.timer === null && this.pending !== null) this.timer = this.clock.later(() => this.flush(), 0);
  }

  flush(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    const feed = this.pending;
    if (!feed) return;
    this.pending = null;
    this.last = feed;
    this.lastApplied = this.clock.now();
    this.applied += 1;
    this.apply(frameOf(feed, this.selectedId));
  }

  stop(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    this.pending = null;
  }
}
