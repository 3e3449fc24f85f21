import type { ComponentChildren } from "preact";
import { LanguageSwitch } from "../components/ui";
import { useT } from "../i18n";
import { useLocation } from "../lib/router";

export interface NavItem {
  href: string;
  label: string;
  id: string;
}

/** The frame of a signed-in app: a skip link, the title bar, the screen, the tab bar. */
export function AppFrame({ home, title, nav, children }: { home: string; title: string; nav: NavItem[]; children: ComponentChildren }) {
  const t = useT();
  const { path } = useLocation();
  return (
    <div class="app">
      <a class="skip" href="#main">
        {t("app.skip")}
      </a>
      <header class="topbar">
        <a class="brand" href={home}>
          {t("app.brand")} <span class="muted">· {title}</span>
        </a>
        <LanguageSwitch />
      </header>
      {children}
      <nav class="tabbar" aria-label={t("nav.label")}>
        {nav.map((item) => {
          const current = item.href === home ? path === home || path === `${home}/` : path.startsWith(item.href);
          return (
            <a key={item.href} id={item.id} href={item.href} aria-current={current ? "page" : undefined}>
              {item.label}
            </a>
          );
        })}
      </nav>
    </div>
  );
}
