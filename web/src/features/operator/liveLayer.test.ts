import { describe, expect, it } from "vitest";
import { FrameBuilder, LiveBatcher, buildFrame, latOf, lonOf, mercatorX, mercatorY, parseFeed, transferables, type Clock, type FromWorker, type LiveFrame, type ToWorker } from "./liveLayer";
import { applyHomography, doctorDot, nearestDot, solveHomography, type Point } from "./overlayMath";
import type { Feed, FeedBooking, FeedDoctor } from "./types";

function feed(doctors: Partial<FeedDoctor>[], bookings: FeedBooking[] = [], at = "2026-12-02T02:00:00.000Z"): Feed {
  return {
    type: "feed",
    at,
    doctors: doctors.map((d, i) => ({ doctor_id: `d${i}`, status: "available", lat: 41.15 + i * 1e-4, lon: -8.61, stale: false, ...d })),
    bookings,
  };
}

const booking = (id: string, extra: Partial<FeedBooking> = {}): FeedBooking => ({
  booking_id: id,
  status: "searching",
  priority: "normal",
  is_emergency: false,
  lat: 41.16,
  lon: -8.62,
  doctor_id: null,
  ...extra,
});

/** Where a frame puts its i-th doctor, as lat, lon. */
function doctorAt(f: LiveFrame, i: number): [number, number] {
  return [latOf(f.originY + f.doctorXY[2 * i + 1]!), lonOf(f.originX + f.doctorXY[2 * i]!)];
}

/** A clock the test moves by hand. */
class FakeClock implements Clock {
  t = 0;
  timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  now() {
    return this.t;
  }
  later(fn: () => void, ms: number) {
    const id = this.next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  cancel(handle: unknown) {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

describe("a feed as a frame", () => {
  it("leaves offline doctors out of the map and the counts, and counts the rest by status", () => {
    const f = buildFrame(
      feed(
        [
          { status: "available" },
          { status: "available", stale: true },
          { status: "offline" },
          { status: "on_break" },
          { status: "available", doctor_id: "busy" },
          { status: "on_visit" },
          { status: "available", lat: Number.NaN },
        ],
        [booking("b1", { status: "en_route", doctor_id: "busy" }), booking("b2", { priority: "emergency", is_emergency: true })],
      ),
    );
    expect(f.total).toBe(5);
    expect(f.doctorIds).toEqual(["d0", "d1", "d3", "busy", "d5"]);
    expect(f.counts).toEqual({ available: 2, offered: 0, en_route: 1, on_visit: 1, on_break: 1 });
    expect(f.availableFresh).toBe(1); // the stale one is not counted as free
    // Kinds: status index * 2 + stale; the free doctor a booking holds is en route.
    expect([...f.doctorKind]).toEqual([0, 1, 8, 4, 6]);
    expect([f.openBookings, f.emergencies]).toEqual([2, 1]);
    expect(f.bookingIds).toEqual(["b1", "b2"]);
    expect([...f.bookingKind]).toEqual([0, 1]);
    expect(f.doctorXY).toHaveLength(10);
    expect(f.bookingXY).toHaveLength(4);
  });

  it("keeps every position to within a centimetre (offsets from an origin in float32)", () => {
    const f = buildFrame(feed([{ lat: 41.1496, lon: -8.6109 }, { lat: 41.2, lon: -8.5 }, { lat: 41.1, lon: -8.7 }]));
    const metres = (a: [number, number], b: [number, number]) => Math.hypot((a[0] - b[0]) * 111_320, (a[1] - b[1]) * 111_320 * Math.cos((a[0] * Math.PI) / 180));
    expect(metres(doctorAt(f, 0), [41.1496, -8.6109])).toBeLessThan(0.01);
    expect(metres(doctorAt(f, 1), [41.2, -8.5])).toBeLessThan(0.01);
    expect(metres(doctorAt(f, 2), [41.1, -8.7])).toBeLessThan(0.01);
    const b = buildFrame(feed([], [booking("b", { lat: 41.16, lon: -8.62 })]));
    expect(latOf(b.originY + b.bookingXY[1]!)).toBeCloseTo(41.16, 7);
    expect(lonOf(b.originX + b.bookingXY[0]!)).toBeCloseTo(-8.62, 7);
  });

  it("projects as Web Mercator does", () => {
    expect([mercatorX(0), mercatorY(0)]).toEqual([0.5, 0.5]);
    expect(mercatorX(-180)).toBe(0);
    expect(mercatorY(85.051129)).toBeCloseTo(0, 6);
    expect(mercatorY(-89)).toBeCloseTo(1, 6); // clamped as MapLibre does
    for (const lat of [-60, -1, 41.15, 60.17]) expect(latOf(mercatorY(lat))).toBeCloseTo(lat, 9);
  });

  it("reads the gateway's text as the object, and a broken or empty feed as an empty frame", () => {
    const source = feed([{}, { status: "en_route" }], [booking("b1")]);
    const fromText = buildFrame(JSON.stringify(source));
    const fromObject = buildFrame(source);
    expect({ ...fromText, builtMs: 0 }).toEqual({ ...fromObject, builtMs: 0 });
    expect(buildFrame(JSON.stringify({ type: "feed", at: "t" })).total).toBe(0);
    expect(parseFeed({ type: "feed" } as unknown as Feed).doctors).toEqual([]);
    expect(() => buildFrame("{not json")).toThrow();
  });

  it("sends the doctor list only when it changed", () => {
    const first = buildFrame(feed([{}, {}]));
    expect(first.doctorIds).toEqual(["d0", "d1"]);
    const same = buildFrame(feed([{ lat: 41.3 }, { status: "on_break" }]), first.doctorIds);
    expect(same.doctorIds).toBeNull(); // moved and changed status, same doctors in the same order
    expect(buildFrame(feed([{}, {}, {}]), first.doctorIds).doctorIds).toEqual(["d0", "d1", "d2"]);
    expect(buildFrame(feed([{}, { status: "offline" }]), first.doctorIds).doctorIds).toEqual(["d0"]);
  });

  it("hands over its arrays without copying (four distinct buffers)", () => {
    const f = buildFrame(feed([{}, { status: "offline" }, {}], [booking("b")]));
    const buffers = transferables(f);
    expect(new Set(buffers).size).toBe(4);
    expect(buffers.every((b) => b instanceof ArrayBuffer)).toBe(true);
    expect(buffers[0]!.byteLength).toBe(2 * 2 * 4); // two doctors left, x and y in float32
  });

  it("turns 10,000 doctors into a frame quickly", () => {
    const many = feed(Array.from({ length: 10_000 }, (_, i) => ({ status: (["available", "en_route", "on_visit", "offline"] as const)[i % 4] })));
    const text = JSON.stringify(many);
    const started = performance.now();
    const f = buildFrame(text);
    const ms = performance.now() - started;
    expect(f.total).toBe(7_500);
    expect(ms).toBeLessThan(250);
  });
});

describe("the feed's pace", () => {
  it("passes on many feeds as one, the newest, at most once per gap", () => {
    const clock = new FakeClock();
    const got: string[] = [];
    const times: number[] = [];
    const b = new LiveBatcher<string>(
      (f) => {
        got.push(f);
        times.push(clock.now());
      },
      500,
      clock,
    );
    for (let i = 0; i < 10; i++) {
      b.push(`t${i}`);
      clock.advance(5);
    }
    expect(got).toEqual(["t0"]); // the first at once (no earlier one)
    clock.advance(100);
    b.push("t10");
    b.push("t11");
    expect(got).toHaveLength(1); // within the gap: waits
    clock.advance(500);
    expect(got).toEqual(["t0", "t11"]); // the newest only
    expect([b.received, b.applied]).toEqual([12, 2]);
    // A feed every 1 s (the gateway's pace), or a little sooner, is passed on every time.
    for (let i = 0; i < 10; i++) {
      clock.advance(i % 2 ? 1000 : 700);
      b.push(`s${i}`);
      clock.advance(0);
    }
    expect(got).toHaveLength(12);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500);
    expect(gaps.slice(2)).toEqual(Array.from({ length: 9 }, (_, i) => (i % 2 ? 700 : 1000)));
    b.push("late");
    b.stop();
    clock.advance(5000);
    expect(got).toHaveLength(12);
  });
});

/** A worker that answers when the test says so, with the real function. */
class FakeWorker {
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  asked: ToWorker[] = [];
  terminated = false;
  private previous: string[] | null = null;
  postMessage(message: ToWorker) {
    this.asked.push(message);
  }
  terminate() {
    this.terminated = true;
  }
  /** Answers the oldest unanswered feed, as feed.worker.ts does. */
  answer() {
    for (;;) {
      const message = this.asked.shift();
      if (!message) throw new Error("nothing asked");
      if (message.type === "reset") {
        this.previous = null;
        continue;
      }
      const frame = buildFrame(message.data, this.previous);
      if (frame.doctorIds) this.previous = frame.doctorIds;
      this.onmessage?.({ data: { type: "frame", gen: message.gen, frame } } as MessageEvent<FromWorker>);
      return;
    }
  }
  fail() {
    this.onerror?.({} as ErrorEvent);
  }
}

describe("frames built in a worker", () => {
  function setUp() {
    const worker = new FakeWorker();
    const frames: (LiveFrame & { doctorIds: string[] })[] = [];
    const builder = new FrameBuilder((f) => frames.push(f), () => worker as unknown as Worker);
    return { worker, frames, builder };
  }

  it("asks one at a time, keeps only the newest while busy, and fills in the unchanged doctor list", () => {
    const { worker, frames, builder } = setUp();
    builder.build(JSON.stringify(feed([{}, {}], [], "a")));
    builder.build(JSON.stringify(feed([{}], [], "b")));
    builder.build(JSON.stringify(feed([{}, {}], [], "c")));
    expect(worker.asked).toHaveLength(1); // busy: b and c wait, c replaces b
    worker.answer();
    expect(frames.map((f) => f.at)).toEqual(["a"]);
    expect(worker.asked).toHaveLength(1);
    worker.answer(); // c: the same doctors as a, so the worker sent no list
    expect(frames.map((f) => f.at)).toEqual(["a", "c"]);
    expect(frames[1]!.doctorIds).toEqual(["d0", "d1"]);
    expect(worker.asked).toHaveLength(0);
  });

  it("drops an answer to a feed asked before stop, and starts the list afresh", () => {
    const { worker, frames, builder } = setUp();
    builder.build(feed([{}, {}], [], "a"));
    worker.answer();
    builder.build(feed([{}, {}], [], "old"));
    builder.stop();
    builder.build(feed([{}, {}], [], "new"));
    worker.answer(); // "old": dropped
    worker.answer(); // "new": after the reset, with its list
    expect(frames.map((f) => f.at)).toEqual(["a", "new"]);
    expect(frames[1]!.doctorIds).toEqual(["d0", "d1"]);
  });

  it("builds on the page when the worker fails or there is none", () => {
    const { worker, frames, builder } = setUp();
    builder.build(feed([{}], [], "a"));
    worker.fail();
    expect(worker.terminated).toBe(true);
    expect(frames.map((f) => f.at)).toEqual(["a"]); // the waiting feed, built here
    builder.build(feed([{}, {}], [], "b"));
    expect(frames.map((f) => f.at)).toEqual(["a", "b"]);
    const plain: string[] = [];
    const none = new FrameBuilder((f) => plain.push(`${f.at}:${f.doctorIds.join(",")}`), null);
    none.build(feed([{}], [], "x"));
    none.build(feed([{}], [], "y"));
    expect(plain).toEqual(["x:d0", "y:d0"]);
    let tries = 0;
    const refused = new FrameBuilder(
      (f) => plain.push(f.at),
      () => {
        tries += 1;
        throw new Error("blocked");
      },
    );
    refused.build(feed([{}], [], "z1"));
    refused.build(feed([{}], [], "z2"));
    expect(plain.slice(2)).toEqual(["z1", "z2"]);
    expect(tries).toBe(1);
  });
});

describe("a worker that stops answering", () => {
  it("is given up after a while, and the page builds the newest feed", () => {
    const worker = new FakeWorker();
    let t = 0;
    const frames: string[] = [];
    const builder = new FrameBuilder((f) => frames.push(f.at), () => worker as unknown as Worker, 5000, () => t);
    builder.build(feed([{}], [], "a"));
    t = 4000;
    builder.build(feed([{}], [], "b"));
    expect(frames).toEqual([]); // still waiting
    t = 5001;
    builder.build(feed([{}], [], "c"));
    expect(worker.terminated).toBe(true);
    expect(frames).toEqual(["c"]);
    builder.build(feed([{}], [], "d"));
    expect(frames).toEqual(["c", "d"]);
  });
});

describe("the overlay's arithmetic", () => {
  const corners: Point[] = [
    [-2e-4, 1e-4],
    [3e-4, 1e-4],
    [-2e-4, 4e-4],
    [3e-4, 4e-4],
  ];

  it("fixes a map's affine view (pan, zoom, rotation) from four points", () => {
    // 2^20 px across the world, rotated by 30 degrees, shifted.
    const k = 2 ** 20;
    const [c, s] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
    const view = (x: number, y: number): Point => [k * (c * x - s * y) + 683, k * (s * x + c * y) + 450];
    const h = solveHomography(corners, corners.map(([x, y]) => view(x, y)))!;
    expect(h).not.toBeNull();
    for (const [x, y] of [
      [0, 0],
      [1.234e-4, -5e-5],
      [-3e-4, 2e-4],
    ] as const) {
      const [u, v] = applyHomography(h, x, y)!;
      const [eu, ev] = view(x, y);
      expect(Math.abs(u - eu)).toBeLessThan(1e-6);
      expect(Math.abs(v - ev)).toBeLessThan(1e-6);
    }
  });

  it("fixes a tilted view (a true perspective) and says when a point is behind the camera", () => {
    const m = [2e6, 1e5, 600, -3e4, 1.5e6, 400, 500, 2000, 1];
    const view = (x: number, y: number): Point | null => {
      const w = m[6]! * x + m[7]! * y + m[8]!;
      return w > 0 ? [(m[0]! * x + m[1]! * y + m[2]!) / w, (m[3]! * x + m[4]! * y + m[5]!) / w] : null;
    };
    const h = solveHomography(corners, corners.map(([x, y]) => view(x, y)!))!;
    for (const [x, y] of [
      [0, 0],
      [2e-4, 3e-4],
    ] as const) {
      const got = applyHomography(h, x, y)!;
      const want = view(x, y)!;
      expect(Math.abs(got[0] - want[0])).toBeLessThan(1e-4);
      expect(Math.abs(got[1] - want[1])).toBeLessThan(1e-4);
    }
    expect(applyHomography(h, 0, -1)).toBeNull(); // w = 1 - 2000 < 0
  });

  it("refuses points that fix nothing", () => {
    const line: Point[] = [
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ];
    expect(solveHomography(line, corners)).toBeNull();
    expect(solveHomography(corners.slice(0, 3), corners.slice(0, 3))).toBeNull();
    expect(solveHomography(Array(4).fill([1, 1]), corners)).toBeNull();
  });

  it("sizes a doctor's dot by zoom as the map's old layer did", () => {
    expect(doctorDot(5)).toEqual({ radius: 2.5, rim: 0 });
    expect(doctorDot(9)).toEqual({ radius: 2.5, rim: 0 });
    expect(doctorDot(11)).toEqual({ radius: 3.5, rim: 0.5 });
    expect(doctorDot(13)).toEqual({ radius: 4.5, rim: 1 });
    expect(doctorDot(16)).toEqual({ radius: 7, rim: 1.5 });
    expect(doctorDot(19)).toEqual({ radius: 7, rim: 1.5 });
  });

  it("finds the dot under the pointer: the nearest within reach, the later on a tie", () => {
    const identity = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const xy = new Float32Array([10, 10, 20, 10, 14, 10, 14, 10]);
    expect(nearestDot(identity, xy, 19, 10, 5)).toBe(1);
    expect(nearestDot(identity, xy, 14, 11, 5)).toBe(3); // 2 and 3 in the same place: 3 is on top
    expect(nearestDot(identity, xy, 100, 100, 5)).toBe(-1);
    expect(nearestDot(identity, xy, 10, 16, 5)).toBe(-1); // 6 px away, reach 5
    expect(nearestDot(identity, new Float32Array(0), 0, 0, 5)).toBe(-1);
  });
});
