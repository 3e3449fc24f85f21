import { describe, expect, it } from "vitest";
import { applyMessage, emptyTracking, secondsLeft, type Tracking } from "./tracking";
import type { Booking } from "./types";
import { checkVisit, visitRequest, type VisitForm } from "./visitForm";

const booking = (status: Booking["status"]): Booking =>
  ({ id: "b1", status, latitude: 56.3, longitude: 44, history: [] }) as unknown as Booking;

const withBooking = (status: Booking["status"]): Tracking => ({ ...emptyTracking(), booking: booking(status) });

describe("tracking a booking", () => {
  it("moves the status on and asks for the booking again when a doctor comes", () => {
    const { state, reload } = applyMessage(withBooking("searching"), { type: "status", booking_id: "b1", status: "assigned", at: "2026-12-01T10:00:00.000Z", reason: "x" }, 0);
    expect(state.booking?.status).toBe("assigned");
    expect(state.timeline.map((e) => e.status)).toEqual(["assigned"]);
    expect(reload).toBe(true);
  });

  it("ignores frames about other bookings", () => {
    const before = withBooking("assigned");
    const { state } = applyMessage(before, { type: "status", booking_id: "other", status: "cancelled" }, 0);
    expect(state).toBe(before);
  });

  it("counts the ETA down from the last position", () => {
    const { state } = applyMessage(withBooking("en_route"), { type: "position", lat: 56.31, lon: 44.01, eta_s: 120, distance_m: 900, coarse: false }, 1_000);
    expect(secondsLeft(state, 1_000)).toBe(120);
    expect(secondsLeft(state, 31_000)).toBe(90);
    expect(secondsLeft(state, 500_000)).toBe(0);
    expect(state.distance_m).toBe(900);
  });

  it("shows no doctor before one is assigned, and forgets them when released", () => {
    const early = applyMessage(withBooking("searching"), { type: "position", lat: 56.31, lon: 44.01, eta_s: 60 }, 0).state;
    expect(early.doctor).toBeNull();
    const coming = applyMessage(withBooking("en_route"), { type: "position", lat: 56.31, lon: 44.01, eta_s: 60, coarse: true, accuracy_m: 500 }, 0).state;
    expect(coming.doctor).toEqual({ lat: 56.31, lon: 44.01, coarse: true, accuracy_m: 500 });
    const released = applyMessage(coming, { type: "doctor_released", booking_id: "b1", reason: "r" }, 5).state;
    expect(released.doctor).toBeNull();
    expect(released.etaDeadline).toBeNull();
    expect(released.notices[0]?.kind).toBe("released");
  });

  it("stops the countdown on arrival and clears 'arriving' at the end", () => {
    let s = applyMessage(withBooking("en_route"), { type: "arriving", booking_id: "b1" }, 0).state;
    expect(s.arriving).toBe(true);
    s = applyMessage(s, { type: "position", lat: 1, lon: 2, eta_s: 30 }, 0).state;
    s = applyMessage(s, { type: "status", booking_id: "b1", status: "arrived" }, 0).state;
    expect(s.etaDeadline).toBeNull();
    s = applyMessage(s, { type: "status", booking_id: "b1", status: "completed" }, 0).state;
    expect(s.arriving).toBe(false);
    expect(s.doctor).toBeNull();
  });
});

const form = (patch: Partial<VisitForm> = {}): VisitForm => ({
  address: "Большая Покровская улица, 1",
  point: { lat: 56.3269, lon: 44.0065 },
  symptoms: "температура",
  callType: "home_visit",
  child: false,
  when: "now",
  scheduledAt: "",
  language: "",
  doctorId: null,
  othersIfDeclined: true,
  ...patch,
});

describe("the new visit's form", () => {
  const now = new Date(2026, 11, 1, 12, 0).getTime();

  it("needs a place picked, not just typed", () => {
    expect(checkVisit(form({ point: null }), now).address).toBe("visit.pickSuggestion");
    expect(checkVisit(form({ point: null, address: " " }), now).address).toBe("visit.addressRequired");
    expect(checkVisit(form(), now)).toEqual({});
  });

  it("takes a time at least 30 minutes ahead and at most 60 days", () => {
    expect(checkVisit(form({ when: "later", scheduledAt: "" }), now).scheduledAt).toBe("visit.timeRequired");
    expect(checkVisit(form({ when: "later", scheduledAt: "2026-12-01T12:10" }), now).scheduledAt).toBe("visit.timeTooSoon");
    expect(checkVisit(form({ when: "later", scheduledAt: "2027-03-01T12:00" }), now).scheduledAt).toBe("visit.timeTooFar");
    expect(checkVisit(form({ when: "later", scheduledAt: "2026-12-01T15:00" }), now)).toEqual({});
  });

  it("asks for the chosen doctor first, and for others only if agreed", () => {
    const body = visitRequest(form({ doctorId: "d1", othersIfDeclined: false, child: true, language: "en" }));
    expect(body).toMatchObject({ requested_doctor_id: "d1", others_if_declined: false, patient_is_child: true, language: "en" });
    const plain = visitRequest(form());
    expect(plain).not.toHaveProperty("requested_doctor_id");
    expect(plain).not.toHaveProperty("patient_is_child");
    expect(plain.priority).toBe("normal");
    expect(visitRequest(form({ callType: "urgent" })).priority).toBe("urgent");
    expect(visitRequest(form({ when: "later", scheduledAt: "2026-12-01T15:00" })).scheduled_at).toBe(new Date(2026, 11, 1, 15, 0).toISOString());
  });
});
