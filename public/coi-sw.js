// Cross-origin isolation for hosts that cannot set response headers (static hosting).
//
// The emulator needs SharedArrayBuffer, which browsers grant only to pages served with
// COOP same-origin + COEP require-corp. When the server does not send them, the page registers
// this service worker and reloads once; from then on the worker re-serves every same-origin
// response with the two headers added. Servers that do send them (vite, vite preview) never
// see this file used.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // A request the browser could not make from a page anyway; leave it alone.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  if (new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.status === 0) return response;
      const headers = new Headers(response.headers);
      headers.set('Cross-Origin-Opener-Policy', 'same-origin');
      headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
      headers.set('Cross-Origin-Resource-Policy', 'same-origin');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
