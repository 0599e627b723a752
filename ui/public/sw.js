// Flightdeck's service worker: the app shell (the page, its scripts and styles) opens with no
// connection. Network first — an online page is always the server's newest — with the last copy
// kept for offline. The API is not handled here: the page keeps its last synced views and the
// decisions taken offline itself (src/api.ts, src/pending.ts); sign-in links and the CA
// certificate always go to the network.
const CACHE = 'flightdeck-shell-v1';

// The shell and what it loads (its hashed scripts and styles, read from the page itself), kept
// at install: the first page was loaded before this worker existed, so nothing of it was kept.
async function keepShell() {
  const cache = await caches.open(CACHE);
  const page = await fetch('./', { cache: 'no-store' });
  if (!page.ok) return;
  const html = await page.clone().text();
  const assets = [...html.matchAll(/(?:src|href)="(\.\/[^"]+)"/g)].map((m) => m[1]);
  await cache.put('./', page);
  await cache.addAll(assets);
}

self.addEventListener('install', (event) => {
  event.waitUntil(keepShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isShell(url) {
  return !url.pathname.startsWith('/api/') && url.pathname !== '/login' && !url.pathname.startsWith('/tls/');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || !isShell(url)) return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          // Every page of the app is the same shell: keep it under `./`.
          const key = req.mode === 'navigate' ? './' : req;
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return res;
      })
      .catch(() =>
        caches
          .match(req.mode === 'navigate' ? './' : req)
          .then((hit) => hit || new Response('Flightdeck is offline and this was never loaded.', { status: 503 })),
      ),
  );
});
