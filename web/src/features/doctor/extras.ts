/** The extras a doctor adds at completion: chosen from the clinic's price list, each
 * with a reason, their sum within the cap the patient accepted. Pure, tested. */
import type { Extra } from "../payments/types";
import type { ExtraChoice } from "./store";

export interface ExtraDraft {
  /** The price list's code. */
  code: string;
  chosen: boolean;
  reason: string;
}

export type ExtraProblem = "extras.reasonRequired" | "extras.reasonTooLong" | "extras.overCap" | "extras.unknown";

export interface ExtrasCheck {
  total_kopecks: number;
  left_kopecks: number;
  over: boolean;
  /** By code: what is wrong with that line. */
  problems: Record<string, ExtraProblem>;
  /** What goes to the engine ({code, reason}), when there is no problem. */
  extras: ExtraChoice[];
}

export function checkExtras(drafts: ExtraDraft[], list: Extra[], capKopecks: number): ExtrasCheck {
  const byCode = new Map(list.map((e) => [e.code, e]));
  const problems: Record<string, ExtraProblem> = {};
  const extras: ExtraChoice[] = [];
  let total = 0;
  for (const d of drafts) {
    if (!d.chosen) continue;
    const item = byCode.get(d.code);
    if (!item) {
      problems[d.code] = "extras.unknown";
      continue;
    }
    total += item.price_kopecks;
    const reason = d.reason.trim();
    if (!reason) problems[d.code] = "extras.reasonRequired";
    else if (reason.length > 500) problems[d.code] = "extras.reasonTooLong";
    else extras.push({ code: d.code, reason });
  }
  const over = total > capKopecks;
  if (over) {
    for (const d of drafts) if (d.chosen && !problems[d.code]) problems[d.code] = "extras.overCap";
  }
  return { total_kopecks: total, left_kopecks: capKopecks - total, over, problems, extras: Object.keys(problems).length ? [] : extras };
}

/** Whether an extra not chosen yet still fits in what is left of the cap. */
export function fits(item: Extra, leftKopecks: number): boolean {
  return item.price_kopecks <= leftKopecks;
}
