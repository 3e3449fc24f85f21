/**
 * The live doctors and bookings on the map, batched. The gateway sends a `feed` (every
 * doctor and open booking in the viewport) about once a second; with 10,000 doctors a
 * message is about a megabyte, so nothing is drawn or rendered per message: the newest
 * feed is kept and, at most once per `minGapMs`, handed to a worker (`feed.worker.ts`)
 * that parses it and turns it into a frame: typed arrays of positions and kinds, ready for
 * the map's overlay (`overlay.ts`), and the legend's counts, made in the same pass.
 * Offline doctors are left out of both (they are gone, not grey). Everything here is pure
 * and runs in the worker or, without one, on the page.
 */
import { LIVE_DOCTOR_STATUSES, type Feed, type FeedBooking, type FeedDoctor, type LiveDoctorStatus } from "./types";

export type Counts = Record<LiveDoctorStatus, number>;

/** A doctor's kind on the overlay: its status's index times two, plus one when stale. */
export const STATUS_INDEX: Record<LiveDoctorStatus, number> = { available: 0, offered: 1, en_route: 2, on_visit: 3, on_break: 4 };

export interface LiveFrame {
  at: string;
  /** The Web Mercator point (0..1 across the world) the positions are relative to. */
  originX: number;
  originY: number;
  /** Two per doctor: Web Mercator x, y minus the origin (float32 keeps centimetres). */
  doctorXY: Float32Array;
  /** One per doctor: STATUS_INDEX * 2 + (stale ? 1 : 0). */
  doctorKind: Uint8Array;
  /** One per doctor; null when the list is the previous frame's (it rarely changes, and
   * 10,000 strings need not cross from the worker every second). */
  doctorIds: string[] | null;
  bookingXY: Float32Array;
  /** One per booking: 1 an emergency, 0 not. */
  bookingKind: Uint8Array;
  bookingIds: string[];
  counts: Counts;
  /** Doctors on the map (offline ones are not). */
  total: number;
  /** Free doctors with a fresh position. */
  availableFresh: number;
  openBookings: number;
  emergencies: number;
  /** How long making it took (ms), parsing included. */
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

export function sameCounts(a: Counts, b: Counts): boolean {
  return LIVE_DOCTOR_STATUSES.every((s) => a[s] === b[s]);
}

const LIVE = new Set<string>(LIVE_DOCTOR_STATUSES);

function isLive(status: string): status is LiveDoctorStatus {
  return LIVE.has(status);
}

const MAX_LAT = 85.051129;

/** Web Mercator x (0 at 180° W, 1 at 180° E), as MapLibre's MercatorCoordinate. */
export function mercatorX(lon: number): number {
  return (180 + lon) / 360;
}

/** Web Mercator y (0 at the north edge, 1 at the south). */
export function mercatorY(lat: number): number {
  const clamped = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
  return (180 - (180 / Math.PI) * Math.log(Math.tan(Math.PI / 4 + (clamped * Math.PI) / 360))) / 360;
}

export function lonOf(x: number): number {
  return x * 360 - 180;
}

export function latOf(y: number): number {
  const y2 = 180 - y * 360;
  return (360 / Math.PI) * Math.atan(Math.exp((y2 * Math.PI) / 180)) - 90;
}

function sameIds(a: readonly string[], b: readonly string[] | null): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The feed as the gateway sent it (text) or already parsed. */
export function parseFeed(data: string | Feed): Feed {
  const feed = (typeof data === "string" ? JSON.parse(data) : data) as Partial<Feed>;
  return {
    type: "feed",
    at: typeof feed.at === "string" ? feed.at : "",
    doctors: Array.isArray(feed.doctors) ? feed.doctors : [],
    bookings: Array.isArray(feed.bookings) ? feed.bookings : [],
  };
}

/** One feed as the overlay's arrays and the legend's counts (pure). A doctor the feed
 * calls available but whom an open booking holds is drawn as that booking says (en route,
 * on a visit). `previousIds` is the last frame's doctor list: when this one's is the same,
 * `doctorIds` is null. */
export function buildFrame(data: string | Feed, previousIds: readonly string[] | null = null): LiveFrame {
  const started = typeof performance !== "undefined" ? performance.now() : 0;
  const feed = parseFeed(data);
  const work = new Map<string, LiveDoctorStatus>();
  for (const b of feed.bookings as FeedBooking[]) {
    const busy = BUSY[b.status];
    if (b.doctor_id && busy) work.set(b.doctor_id, busy);
  }
  const counts = emptyCounts();
  const source = feed.doctors as FeedDoctor[];
  let originX = NaN;
  let originY = NaN;
  const xy = new Float32Array(source.length * 2);
  const kind = new Uint8Array(source.length);
  const ids: string[] = [];
  let availableFresh = 0;
  let n = 0;
  const hasWork = work.size > 0;
  for (let i = 0; i < source.length; i++) {
    const d = source[i]!;
    if (!isLive(d.status) || !Number.isFinite(d.lat) || !Number.isFinite(d.lon)) continue;
    const status = d.status === "available" && hasWork ? (work.get(d.doctor_id) ?? "available") : d.status;
    counts[status] += 1;
    if (status === "available" && !d.stale) availableFresh += 1;
    const x = mercatorX(d.lon);
    const y = mercatorY(d.lat);
    if (n === 0) {
      originX = x;
      originY = y;
    }
    xy[2 * n] = x - originX;
    xy[2 * n + 1] = y - originY;
    kind[n] = STATUS_INDEX[status] * 2 + (d.stale ? 1 : 0);
    ids.push(d.doctor_id);
    n++;
  }
  const bookings = (feed.bookings as FeedBooking[]).filter((b) => Number.isFinite(b.lat) && Number.isFinite(b.lon));
  if (n === 0 && bookings.length) {
    originX = mercatorX(bookings[0]!.lon);
    originY = mercatorY(bookings[0]!.lat);
  }
  if (!Number.isFinite(originX)) {
    originX = 0.5;
    originY = 0.5;
  }
  const bookingXY = new Float32Array(bookings.length * 2);
  const bookingKind = new Uint8Array(bookings.length);
  const bookingIds: string[] = [];
  let emergencies = 0;
  bookings.forEach((b, i) => {
    const emergency = b.is_emergency || b.priority === "emergency";
    if (emergency) emergencies += 1;
    bookingXY[2 * i] = mercatorX(b.lon) - originX;
    bookingXY[2 * i + 1] = mercatorY(b.lat) - originY;
    bookingKind[i] = emergency ? 1 : 0;
    bookingIds.push(b.booking_id);
  });
  return {
    at: feed.at,
    originX,
    originY,
    doctorXY: n * 2 === xy.length ? xy : xy.slice(0, n * 2),
    doctorKind: n === kind.length ? kind : kind.slice(0, n),
    doctorIds: sameIds(ids, previousIds) ? null : ids,
    bookingXY,
    bookingKind,
    bookingIds,
    counts,
    total: n,
    availableFresh,
    openBookings: bookings.length,
    emergencies,
    builtMs: (typeof performance !== "undefined" ? performance.now() : 0) - started,
  };
}

/** The buffers a frame can hand over without copying (postMessage's transfer list). */
export function transferables(frame: LiveFrame): ArrayBuffer[] {
  return [frame.doctorXY.buffer, frame.doctorKind.buffer, frame.bookingXY.buffer, frame.bookingKind.buffer] as ArrayBuffer[];
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
 * Keeps the newest feed and passes it on at most once per `minGapMs`: a feed arriving
 * sooner waits for the gap (and is replaced by any newer one meanwhile).
 */
export class LiveBatcher<T> {
  private pending: T | null = null;
  private timer: unknown = null;
  private lastApplied = -Infinity;
  /** How many feeds were passed on, and how many came (for tests and the page). */
  applied = 0;
  received = 0;

  constructor(
    private readonly apply: (feed: T) => void,
    private readonly minGapMs = 500,
    private readonly clock: Clock = realClock,
  ) {}

  push(feed: T): void {
    this.received += 1;
    this.pending = feed;
    if (this.timer !== null) return; // a flush is due: it will take the newest
    const wait = Math.max(0, this.lastApplied + this.minGapMs - this.clock.now());
    this.timer = this.clock.later(() => this.flush(), wait);
  }

  flush(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    const feed = this.pending;
    if (feed === null) return;
    this.pending = null;
    this.lastApplied = this.clock.now();
    this.applied += 1;
    this.apply(feed);
  }

  stop(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    this.pending = null;
  }
}

/** What the page asks the worker and what it answers. */
export type ToWorker = { type: "feed"; gen: number; data: string | Feed } | { type: "reset" };
export type FromWorker = { type: "frame"; gen: number; frame: LiveFrame } | { type: "error"; gen: number; detail: string };

/**
 * Turns feeds into frames in a worker, one at a time: a feed that comes while the worker
 * is busy waits (replaced by any newer one). Without a worker (or when it fails) the same
 * function runs on the page. `doctorIds` in the frames it delivers is never null.
 */
export class FrameBuilder {
  private busy = false;
  /** The feed the worker is working on, and the newest waiting for it. */
  private asked: string | Feed | null = null;
  private queued: string | Feed | null = null;
  private ids: string[] | null = null;
  /** Raised by stop(): answers to what was asked before are dropped. */
  private gen = 0;
  private worker: Worker | null = null;

  private askedAt = 0;

  constructor(
    private readonly deliver: (frame: LiveFrame & { doctorIds: string[] }) => void,
    /** Made at the first feed; null (or throwing) builds on the page. */
    private makeWorker: (() => Worker) | null,
    /** A worker silent this long is given up for the page. */
    private readonly patienceMs = 5000,
    private readonly now: () => number = realClock.now,
  ) {}

  build(data: string | Feed): void {
    if (this.busy && this.now() - this.askedAt > this.patienceMs) {
      this.queued = data;
      this.fallBack(); // builds the newest feed here
      return;
    }
    if (this.busy) {
      this.queued = data;
      return;
    }
    if (!this.worker && this.makeWorker) {
      const make = this.makeWorker;
      this.makeWorker = null; // one try
      try {
        const worker = make();
        worker.onmessage = (event: MessageEvent<FromWorker>) => this.answered(event.data);
        worker.onerror = () => this.fallBack();
        worker.onmessageerror = () => this.fallBack();
        this.worker = worker;
      } catch {
        this.worker = null;
      }
    }
    if (!this.worker) {
      this.take(buildFrame(data, this.ids));
      return;
    }
    this.busy = true;
    this.asked = data;
    this.askedAt = this.now();
    this.worker.postMessage({ type: "feed", gen: this.gen, data } satisfies ToWorker);
  }

  private answered(message: FromWorker): void {
    if (message.gen !== this.gen) return; // asked before stop()
    this.busy = false;
    this.asked = null;
    if (message.type === "frame") this.take(message.frame);
    const next = this.queued;
    this.queued = null;
    if (next !== null) this.build(next);
  }

  private take(frame: LiveFrame): void {
    let ids = frame.doctorIds ?? this.ids ?? [];
    if (ids.length !== frame.total) ids = []; // never: the worker and the page keep the same list
    this.ids = ids;
    this.deliver({ ...frame, doctorIds: ids });
  }

  /** The worker could not start or broke: build on the page from now on. */
  private fallBack(): void {
    this.gen += 1;
    this.worker?.terminate();
    this.worker = null;
    this.ids = null;
    this.busy = false;
    const next = this.queued ?? this.asked;
    this.queued = this.asked = null;
    if (next !== null) this.build(next);
  }

  stop(): void {
    this.gen += 1;
    this.queued = this.asked = null;
    this.busy = false;
    this.ids = null;
    this.worker?.postMessage({ type: "reset" } satisfies ToWorker);
  }
}
