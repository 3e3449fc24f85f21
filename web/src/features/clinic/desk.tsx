/** What the desk apps (clinic, admin) share: the frame with its section bar, the bar chart,
 * the cursor list's "load more", the period picker. Dense and driven by the keyboard:
 * "/" goes to the screen's search, "g" then a section's letter opens that section. */
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { Button, LanguageSwitch } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT } from "../../i18n";
import { navigate, useLocation } from "../../lib/router";
import { useStore } from "../../lib/store";
import { signOut } from "../auth/session";
import { layoutBars } from "./charts";
import type { CursorList } from "./cursorList";
import "./desk.css";

export interface DeskNavItem {
  href: string;
  label: string;
  id: string;
  /** The key that opens it after "g". */
  key: string;
}

/** Local links under `prefix` move within the app (the app-wide handler knows only the
 * patient's and the doctor's paths). */
function useDeskLinks(prefix: string): void {
  useEffect(() => {
    const onClick = (event: MouseEvent) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const anchor = (event.target as Element | null)?.closest?.("a");
      if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
      const href = anchor.getAttribute("href");
      if (!href || !(href === prefix || href.startsWith(`${prefix}/`) || href.startsWith(`${prefix}?`))) return;
      event.preventDefault();
      navigate(href);
    };
    document.addEventListener("click", onClick);
    return () => document.removeEventListener("click", onClick);
  }, [prefix]);
}

export function DeskFrame({ home, title, nav, children }: { home: string; title: string; nav: DeskNavItem[]; children: ComponentChildren }) {
  const t = useT();
  const { path } = useLocation();
  useDeskLinks(home);
  const pendingG = useRef(0);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      if (event.key === "/") {
        const search = document.querySelector<HTMLElement>("[data-search]");
        if (search) {
          event.preventDefault();
          search.focus();
        }
        return;
      }
      if (event.key === "g") {
        pendingG.current = Date.now();
        return;
      }
      if (Date.now() - pendingG.current < 1500) {
        const item = nav.find((n) => n.key === event.key);
        pendingG.current = 0;
        if (item) {
          event.preventDefault();
          navigate(item.href);
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [nav]);
  return (
    <div class="app desk">
      <a class="skip" href="#main">
        {t("app.skip")}
      </a>
      <header class="topbar desk-top">
        <a class="brand" href={home}>
          {t("app.brand")} <span class="muted">· {title}</span>
        </a>
        <nav class="desk-nav" aria-label={t("nav.label")}>
          {nav.map((item) => {
            const current = item.href === home ? path === home || path === `${home}/` : path.startsWith(item.href);
            return (
              <a key={item.href} id={item.id} href={item.href} aria-current={current ? "page" : undefined} aria-keyshortcuts={`g ${item.key}`}>
                {item.label}
              </a>
            );
          })}
        </nav>
        <div class="row">
          <LanguageSwitch />
          <Button id="signout" onClick={() => void signOut()}>
            {t("signin.signOut")}
          </Button>
        </div>
      </header>
      {children}
    </div>
  );
}

/** "Load more" under a cursor list, with its state in words. */
export function LoadMore<T>({ list, id, count }: { list: CursorList<T>; id: string; count: (n: number) => string }) {
  const t = useT();
  const s = useStore(list);
  return (
    <div class="load-more row">
      <span class="muted small" id={`${id}-count`} data-count={String(s.items.length)} role="status">
        {s.loaded ? (s.items.length ? count(s.items.length) : t("clinic.nothingFound")) : t("app.loading")}
      </span>
      {s.error != null && <span class="error">{errorText(t, s.error)}</span>}
      {s.nextCursor && (
        <Button id={`${id}-more`} onClick={() => void list.more()} busy={s.loading}>
          {t("clinic.loadMore")}
        </Button>
      )}
    </div>
  );
}

/** A bar chart in SVG with a title, and the same figures as a table (for screen readers
 * and anyone who wants the numbers). */
export function BarChart({
  id,
  title,
  data,
  labelHeader,
  valueHeader,
  format = (v) => String(v),
  height = 160,
  labelEvery = 1,
}: {
  id: string;
  title: string;
  data: { label: string; value: number }[];
  labelHeader: string;
  valueHeader: string;
  format?: (value: number) => string;
  height?: number;
  labelEvery?: number;
}) {
  const t = useT();
  const width = 560;
  const left = 44;
  const bottom = 22;
  const plotW = width - left - 6;
  const plotH = height - bottom - 8;
  const layout = useMemo(() => layoutBars(data, { width: plotW, height: plotH }), [data, plotW, plotH]);
  return (
    <figure class="chart" id={id} data-bars={String(data.length)} data-top={String(layout.top)}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title`} preserveAspectRatio="xMidYMid meet">
        <g transform={`translate(${left},8)`}>
          {layout.ticks.map((tick) => (
            <g key={tick.value}>
              <line x1={0} x2={plotW} y1={tick.y} y2={tick.y} class="grid" />
              <text x={-6} y={tick.y + 4} text-anchor="end" class="axis">
                {format(tick.value)}
              </text>
            </g>
          ))}
          {layout.bars.map((bar, i) => (
            <g key={i}>
              <rect x={bar.x} y={bar.y} width={bar.width} height={bar.height} class="bar">
                <title>{`${bar.label}: ${format(bar.value)}`}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={bar.x + bar.width / 2} y={plotH + 15} text-anchor="middle" class="axis">
                  {bar.label}
                </text>
              )}
            </g>
          ))}
        </g>
      </svg>
      <details>
        <summary>{t("clinic.chartTable")}</summary>
        <table class="dense">
          <thead>
            <tr>
              <th scope="col">{labelHeader}</th>
              <th scope="col">{valueHeader}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((d, i) => (
              <tr key={i}>
                <td>{d.label}</td>
                <td class="num">{format(d.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

/** Runs `load` now and whenever `deps` change; the screen's list starts with its filters. */
export function useReload(load: () => void, deps: unknown[]): void {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(load, deps);
}
