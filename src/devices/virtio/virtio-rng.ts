// virtio-rng, the entropy device (virtio 1.1 §5.4): one request queue of device-writable
// buffers, which the device fills with random bytes from the host's source and returns.

import type { Chain } from './virtqueue.js';
import { VirtioPci, type VirtioPciOptions } from './virtio-pci.js';

export const VIRTIO_ID_ENTROPY = 4;
export const VIRTIO_RNG_QUEUE_SIZE = 64;
/** Bytes given per buffer at most (crypto.getRandomValues fills 65536 at a time); §5.4.6 lets the device give fewer. */
export const VIRTIO_RNG_MAX_FILL = 65536;
const CLASS_OTHER = 0x00ff00;

export interface VirtioRngOptions extends VirtioPciOptions {
  /** Fills `buffer` with random bytes (at most 65536): `(b) => crypto.getRandomValues(b)` in the browser and Node. */
  random: (buffer: Uint8Array) => void;
}

export class VirtioRng extends VirtioPci<Record<string, never>> {
  readonly rng = { requests: 0, bytes: 0 };
  private readonly random: (buffer: Uint8Array) => void;

  constructor(opts: VirtioRngOptions) {
    super('virtio-rng', { virtioId: VIRTIO_ID_ENTROPY, classCode: CLASS_OTHER, queueMax: [VIRTIO_RNG_QUEUE_SIZE], configSize: 0, features: 0 }, opts);
    this.random = opts.random;
  }

  protected freshDeviceState(): Record<string, never> { return {}; }
  protected deviceConfigRead(): number { return 0; }

  protected queueNotified(q: number): void {
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) this.fill(q, chain);
    this.notifyUsed(q);
  }

  private fill(q: number, chain: Chain): void {
    this.rng.requests++;
    const bytes = new Uint8Array(Math.min(chain.writable, VIRTIO_RNG_MAX_FILL));
    this.random(bytes);
    const n = this.scatter(chain, 0, bytes);
    this.rng.bytes += n;
    this.used(q, chain, n);
  }
}
