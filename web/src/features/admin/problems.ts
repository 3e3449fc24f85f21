/** A 422 problem document's errors by field (pure, tested): `loc` ["body",
 * "emergency_numbers", "0", "number", "str"] is kept under every prefix of its path
 * ("emergency_numbers", "emergency_numbers.0", "emergency_numbers.0.number", …), so a
 * field finds its message whatever pydantic appends (a union's member, a type). */
import type { Problem } from "../../lib/http";

export function fieldErrors(problem: Problem | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of problem?.errors ?? []) {
    const loc = (e.loc ?? []).filter((part, i) => !(i === 0 && (part === "body" || part === "query")));
    for (let n = 1; n <= loc.length; n++) {
      const key = loc.slice(0, n).join(".");
      if (!(key in out)) out[key] = e.msg ?? "";
    }
  }
  return out;
}
