// Whether this browser can host the VM: WebAssembly, and SharedArrayBuffer, which a page gets
// only when cross-origin isolated (COOP/COEP). A static host that cannot send those headers gets
// them from a service worker (public/coi-sw.js) after one reload.

/** What this browser lacks for the VM, in words; null when it has everything. */
export function missingPlatform(): string | null {
  if (typeof WebAssembly !== 'object') {
    return 'This browser has no WebAssembly, which the emulator needs. Use a current Chrome, Edge, Firefox or Safari.';
  }
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    if (!self.crossOriginIsolated) {
      return 'This page is not cross-origin isolated, so the browser withholds SharedArrayBuffer. '
        + 'The server must send "Cross-Origin-Opener-Policy: same-origin" and '
        + '"Cross-Origin-Embedder-Policy: require-corp" with the page (vite and vite preview do).';
    }
    return 'This browser has no SharedArrayBuffer, which the emulator needs.';
  }
  if (!self.crossOriginIsolated) {
    return 'This page is not cross-origin isolated (missing COOP/COEP headers), so the VM worker cannot share memory with it.';
  }
  return null;
}

/** Set while the page reloads itself under the isolation service worker, so it tries only once. */
const COI_RELOAD_KEY = 'webx86-coi-reload';
const COI_INSTALL_TIMEOUT_MS = 4000;

/**
 * On a host that does not send COOP/COEP, install public/coi-sw.js (which adds them) and reload
 * once. Returns true when a reload is under way.
 */
export async function isolateThroughServiceWorker(): Promise<boolean> {
  if (self.crossOriginIsolated || !('serviceWorker' in navigator) || !self.isSecureContext) return false;
  if (sessionStorage.getItem(COI_RELOAD_KEY)) {
    // Already reloaded once and still not isolated: the service worker cannot help here.
    sessionStorage.removeItem(COI_RELOAD_KEY);
    return false;
  }
  try {
    // Bounded: where service workers are disabled, registration can stay pending for good.
    const installed = (async () => {
      await navigator.serviceWorker.register(`${import.meta.env.BASE_URL}coi-sw.js`);
      await navigator.serviceWorker.ready;
      return true;
    })();
    const gaveUp = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), COI_INSTALL_TIMEOUT_MS));
    if (!(await Promise.race([installed, gaveUp]))) return false;
  } catch {
    return false;
  }
  sessionStorage.setItem(COI_RELOAD_KEY, '1');
  location.reload();
  return true;
}

/** The page runs (isolated or not): a later visit may try the service worker's reload again. */
export function isolationSettled(): void { sessionStorage.removeItem(COI_RELOAD_KEY); }

/** One isolation attempt for the whole page, however many VMs it starts. */
let pageIsolation: Promise<boolean> | null = null;

/**
 * Make the page cross-origin isolated if a service worker can: false when the page reloads for
 * it (stop there), true when the page goes on as it is (isolated or not: missingPlatform says).
 */
export function isolatePage(): Promise<boolean> {
  pageIsolation ??= (async () => {
    if (await isolateThroughServiceWorker()) return false;
    isolationSettled();
    return true;
  })();
  return pageIsolation;
}
