import { useEffect, useState } from "preact/hooks";
import { createStore } from "./store";

/** The browser's path as a store; links and `navigate` change it without a reload. */
export const location$ = createStore(
  typeof window === "undefined" ? "/" : window.location.pathname + window.location.search,
);

export function navigate(to: string, { replace = false } = {}): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  location$.set(to);
  window.scrollTo(0, 0);
}

if (typeof window !== "undefined") {
  window.addEventListener("popstate", () => location$.set(location.pathname + location.search));
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [full, setFull] = useState(location$.get());
  useEffect(() => location$.subscribe(setFull), []);
  const [path = "/", search = ""] = full.split("?");
  return { path, query: new URLSearchParams(search) };
}

/** Matches "/patient/visits/:id" against a path; the named parts, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(":")) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return null;
  }
  return params;
}

/** A click on a local link moves within the app. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.("a");
  if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
  const href = anchor.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("//")) return;
  if (!href.startsWith("/patient") && !href.startsWith("/doctor") && href !== "/") return;
  event.preventDefault();
  navigate(href);
}
