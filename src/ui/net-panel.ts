// The page's side of the network: reads the choice from the address (src/net/page-options.ts),
// shows the network's state in the status bar (relay trouble in words), and offers the capture
// as a .pcap download. The network itself lives in the worker (src/worker/worker-net.ts).
import { CAPTURE_LIMIT } from '../net/capture-ring.js';
import { parsePageNet, randomMac, type PageNet } from '../net/page-options.js';
import type { WorkerNetStatus } from '../worker/worker-net.js';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

/** One MAC per page load: a restart keeps it, another tab gets its own. */
const PAGE_MAC = randomMac();

/** The network the address asks for, or the reason it cannot be had, in words. */
export function pageNetChoice(q: URLSearchParams): { net: PageNet } | { error: string } {
  try {
    return { net: parsePageNet(q, location.href, PAGE_MAC) };
  } catch (e) {
    return { error: `The network option in the address cannot be used: ${(e as Error).message}.` };
  }
}

export class NetPanel {
  private readonly statusNet = byId<HTMLElement>('status-net');
  private readonly captureButton = byId<HTMLButtonElement>('btn-capture');

  constructor(net: PageNet, capture: () => Promise<Uint8Array | null>, onError: (message: string) => void) {
    this.captureButton.hidden = net.backend === 'none';
    this.captureButton.title = `Download the network capture as a .pcap file (Wireshark, tcpdump -r): every frame of the card, the last ${CAPTURE_LIMIT >> 20} MiB of them`;
    this.captureButton.addEventListener('click', () => {
      capture().then((bytes) => {
        if (!bytes) return onError('There is no network capture yet: no machine with a network card has been started.');
        download(bytes, `webx86-${new Date().toISOString().replace(/[:.]/g, '-')}.pcap`);
      }).catch((e) => onError(`The capture could not be read from the VM worker: ${(e as Error).message}`));
    });
  }

  show(s: WorkerNetStatus | undefined): void {
    if (!s) {
      this.statusNet.textContent = '';
      return;
    }
    this.statusNet.textContent = s.trouble ? `${s.summary}: ${s.trouble}` : s.summary;
    this.statusNet.className = s.trouble ? 'error' : '';
    this.statusNet.title = `card ${s.mac}; ${s.framesOut} frames sent, ${s.framesIn} received; capture: ${s.capture.frames} frames`
      + (s.capture.dropped ? ` (${s.capture.dropped} older ones dropped)` : '');
  }
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/vnd.tcpdump.pcap' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
