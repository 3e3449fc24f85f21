import { describe, expect, it } from "vitest";
import { checkDocumentFile, sniff } from "./documents";
import { applyDoctorMessage, initialDoctorState, type DoctorState } from "./store";
import { metresBetween } from "./Visit";

const OFFER = {
  type: "offer", offer_id: "b1.1.0", booking_id: "b1", expires_at: "x", ttl_s: 15, eta_s: 240,
  call_type: "home_visit", priority: "normal", is_emergency: false, address: "ул. Минина, 3", lat: 56.3, lon: 44.0, symptoms: "",
};

const onShift = (): DoctorState => ({ ...initialDoctorState(), onShift: true, status: "available" });

describe("the doctor's state", () => {
  it("rings for a new offer, once, with its deadline on this clock", () => {
    const first = applyDoctorMessage(onShift(), OFFER, 1_000);
    expect(first.alert).toBe(true);
    expect(first.state.offer?.deadline).toBe(16_000);
    expect(first.state.status).toBe("offered");
    expect(applyDoctorMessage(first.state, OFFER, 2_000).alert).toBe(false);
  });

  it("drops an offer that ended and says why", () => {
    const offered = applyDoctorMessage(onShift(), OFFER, 0).state;
    const lapsed = applyDoctorMessage(offered, { type: "offer_ended", offer_id: "b1.1.0", outcome: "expired" }, 5).state;
    expect(lapsed.offer).toBeNull();
    expect(lapsed.status).toBe("available");
    expect(lapsed.lastOutcome?.kind).toBe("lapsed");
    const other = applyDoctorMessage(offered, { type: "offer_ended", offer_id: "zzz", outcome: "expired" }, 5).state;
    expect(other.offer).not.toBeNull();
  });

  it("follows the visit to its end", () => {
    let s = applyDoctorMessage(onShift(), { type: "doctor_assigned", booking_id: "b1" }, 0).state;
    expect(s.visitId).toBe("b1");
    s = applyDoctorMessage(s, { type: "status", booking_id: "b1", status: "arrived" }, 0).state;
    expect(s.status).toBe("on_visit");
    s = applyDoctorMessage(s, { type: "status", booking_id: "b1", status: "completed" }, 0).state;
    expect(s.visitId).toBeNull();
    expect(s.status).toBe("available");
  });

  it("takes the snapshot after a reconnect as the truth", () => {
    const s = applyDoctorMessage(initialDoctorState(), { type: "snapshot", shift: "available", offer: null, booking_id: "b9", status: "en_route" }, 0).state;
    expect(s).toMatchObject({ onShift: true, visitId: "b9", visitStatus: "en_route", status: "en_route" });
    const off = applyDoctorMessage(s, { type: "snapshot", shift: null, offer: null, booking_id: null, status: null }, 0).state;
    expect(off).toMatchObject({ onShift: false, visitId: null, status: "offline" });
  });
});

describe("documents", () => {
  const pdf = new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31]);
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  it("take a PDF or an image up to 10 MB, by its bytes as well as its type", () => {
    expect(sniff(pdf)).toBe("application/pdf");
    expect(checkDocumentFile({ type: "application/pdf", size: 1000 }, pdf)).toBeNull();
    expect(checkDocumentFile({ type: "image/png", size: 1000 }, png)).toBeNull();
    expect(checkDocumentFile({ type: "application/pdf", size: 11 * 1024 * 1024 }, pdf)).toBe("documents.tooBig");
    expect(checkDocumentFile({ type: "application/pdf", size: 0 }, pdf)).toBe("documents.empty");
    expect(checkDocumentFile({ type: "text/plain", size: 10 }, pdf)).toBe("documents.wrongType");
    expect(checkDocumentFile({ type: "application/pdf", size: 10 }, png)).toBe("documents.wrongType");
    // WebP is refused: the engine takes PDF, JPEG and PNG only.
    const webp = new Uint8Array([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50]);
    expect(sniff(webp)).toBeNull();
    expect(checkDocumentFile({ type: "image/webp", size: 1000 }, webp)).toBe("documents.wrongType");
  });
});

describe("distance", () => {
  it("is about 111 km per degree of latitude", () => {
    expect(metresBetween({ lat: 56, lon: 44 }, { lat: 57, lon: 44 })).toBeCloseTo(111_195, -2);
  });
});
