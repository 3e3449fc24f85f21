/// <reference lib="webworker" />
// The service worker: keeps the app shell (HTML, scripts, styles, icons) for offline use
// and installs as a PWA. API answers are never stored: they hold medical details and must
// be fresh. Map tiles, style and glyphs are kept (they are public) so a map seen once
// shows again without a network.
declare const __SHELL_FILES__: string[];
declare const __SHELL_VERSION__: string;

const sw = self as unknown as ServiceWorkerGlobalScope;
const SHELL = `tot-shell-${__SHELL_VERSION__}`;
const MAP = "tot-map-v1";
const MAP_LIMIT = 400;

sw.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(__SHELL_FILES__))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("tot-shell-") && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

function isAppPage(path: string): boolean {
  return path === "/" || path === "/patient" || path.startsWith("/patient/") || path === "/doctor" || path.startsWith("/doctor/");
}

async function trim(cache: Cache): Promise<void> {
  const keys = await cache.keys();
  for (const key of keys.slice(0, Math.max(0, keys.length - MAP_LIMIT))) await cache.delete(key);
}

sw.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // always the network
  if (request.mode === "navigate" && isAppPage(url.pathname)) {
    // The newest page when online; the kept shell when not.
    event.respondWith(fetch(request).catch(async () => (await caches.match("/", { cacheName: SHELL })) ?? Response.error()));
    return;
  }
  if (url.pathname.startsWith("/assets/") || url.pathname.startsWith("/icons/")) {
    event.respondWith(caches.match(request).then((hit) => hit ?? fetch(request)));
    return;
  }
  if (url.pathname.startsWith("/tiles/") || url.pathname.startsWith("/map/fonts/") || url.pathname === "/map/style.json") {
    event.respondWith(
      caches.open(MAP).then(async (cache) => {
        try {
          const response = await fetch(request);
          if (response.ok) {
            await cache.put(request, response.clone());
            void trim(cache);
          }
          return response;
        } catch {
          return (await cache.match(request)) ?? Response.error();
        }
      }),
    );
  }
});
