/** A 422 problem document's errors by field (pure, tested): `loc` ["body",
 * "emergency_numbers", 0, "number"] becomes "emergency_numbers.0.number". */
import type { Problem } from "../../lib/http";

export function fieldErrors(problem: Problem | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of problem?.errors ?? []) {
    const loc = (e.loc ?? []).filter((part, i) => !(i === 0 && (part === "body" || part === "query")));
    if (!loc.length) continue;
    const key = loc.join(".");
    if (!(key in out)) out[key] = e.msg ?? "";
  }
  return out;
}
