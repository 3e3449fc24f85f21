import { describe, expect, it, vi } from "vitest";
import { Channel } from "./channel";
import { createStore } from "./store";
import { match } from "./router";

describe("store", () => {
  it("tells subscribers of changes, not of the same value", () => {
    const s = createStore(1);
    const seen: number[] = [];
    const stop = s.subscribe((v) => seen.push(v));
    s.set(2);
    s.set(2);
    s.set((v) => v + 1);
    stop();
    s.set(10);
    expect(seen).toEqual([2, 3]);
    expect(s.get()).toBe(10);
  });
});

describe("routes", () => {
  it("match with named parts", () => {
    expect(match("/patient/visits/:id", "/patient/visits/ab%20c")).toEqual({ id: "ab c" });
    expect(match("/patient/visits/:id", "/patient/visits")).toBeNull();
    expect(match("/doctor", "/patient")).toBeNull();
  });
});

describe("channel numbering", () => {
  it("keeps the last sequence number and the epoch for resuming", () => {
    const c = new Channel("/ws/x", { token: async () => "t" });
    c.receive(JSON.stringify({ type: "hello", seq: 4, epoch: "e1" }));
    expect([c.lastSeq, c.epoch]).toEqual([4, "e1"]);
    c.receive(JSON.stringify({ type: "status", seq: 6 }));
    c.receive(JSON.stringify({ type: "status", seq: 5 }));
    c.receive(JSON.stringify({ type: "snapshot", seq: 99 }));
    expect(c.lastSeq).toBe(6);
    c.receive(JSON.stringify({ type: "hello", seq: 2, epoch: "e2" })); // the engine restarted
    expect([c.lastSeq, c.epoch]).toEqual([2, "e2"]);
    c.receive("not json");
    expect(c.lastSeq).toBe(2);
  });

  it("answers a request with the reply carrying its ref", async () => {
    const sent: string[] = [];
    const c = new Channel("/ws/x", { token: async () => "t" });
    c.socket = { readyState: 1, send: (d: string) => sent.push(d) } as unknown as WebSocket;
    vi.stubGlobal("WebSocket", { OPEN: 1 });
    const reply = c.request({ type: "accept", offer_id: "o" });
    const ref = JSON.parse(sent[0]!).ref;
    c.receive(JSON.stringify({ type: "accepted", ref, booking_id: "b" }));
    await expect(reply).resolves.toMatchObject({ booking_id: "b" });
    const failing = c.request({ type: "accept", offer_id: "o" });
    c.receive(JSON.stringify({ type: "error", ref: JSON.parse(sent[1]!).ref, detail: "gone" }));
    await expect(failing).rejects.toThrow("gone");
    vi.unstubAllGlobals();
  });
});
