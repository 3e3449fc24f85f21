import { describe, expect, it } from "vitest";
import { auditFilters, auditFormFrom, EMPTY_AUDIT } from "./auditFilters";
import { fieldErrors } from "./problems";
import { checkOk } from "./Status";

describe("the audit viewer's filters", () => {
  it("send only what is filled, with times as UTC instants", () => {
    expect(auditFilters(EMPTY_AUDIT)).toEqual({});
    const out = auditFilters({ ...EMPTY_AUDIT, actor_id: " u1 ", target_type: "user", since: "2026-11-30T10:15" });
    expect(out.actor_id).toBe("u1");
    expect(out.target_type).toBe("user");
    expect(out.since).toBe(new Date("2026-11-30T10:15").toISOString());
    expect(out.until).toBeUndefined();
    expect(auditFilters({ ...EMPTY_AUDIT, until: "garbage" })).toEqual({});
  });

  it("start from the address's query (a user's own trail)", () => {
    const form = auditFormFrom(new URLSearchParams("target_type=user&target_id=abc"));
    expect(form).toEqual({ ...EMPTY_AUDIT, target_type: "user", target_id: "abc" });
  });
});

describe("a problem document's errors", () => {
  it("are keyed by field path, without body", () => {
    expect(
      fieldErrors({
        errors: [
          { loc: ["body", "offer_ttl_s", "float"], msg: "Input should be less than or equal to 300" },
          { loc: ["body", "emergency_numbers", "1", "number"], msg: "String should match pattern" },
          { loc: ["body", "emergency_numbers", "2", "label_ru"], msg: "String should have at least 1 character" },
          { loc: ["body"], msg: "ignored" },
        ],
      }),
    ).toEqual({
      offer_ttl_s: "Input should be less than or equal to 300",
      "offer_ttl_s.float": "Input should be less than or equal to 300",
      emergency_numbers: "String should match pattern",
      "emergency_numbers.1": "String should match pattern",
      "emergency_numbers.1.number": "String should match pattern",
      "emergency_numbers.2": "String should have at least 1 character",
      "emergency_numbers.2.label_ru": "String should have at least 1 character",
    });
    expect(fieldErrors(null)).toEqual({});
  });
});

describe("status checks", () => {
  it("read ok from a word, a boolean or an object", () => {
    expect(checkOk("ok")).toBe(true);
    expect(checkOk(true)).toBe(true);
    expect(checkOk({ ok: true, detail: "x" })).toBe(true);
    expect(checkOk("down")).toBe(false);
    expect(checkOk(false)).toBe(false);
    expect(checkOk(null)).toBe(false);
  });
});
