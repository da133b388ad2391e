// virtio-console (virtio 1.1 §5.3) with one port and no optional features: receiveq (queue 0)
// carries bytes to the guest in buffers it posts, transmitq (queue 1) the bytes it writes. The
// host hears the guest's bytes through a callback, and its own bytes wait in the device state
// until the guest has posted buffers for them.

import { VirtioPci, type VirtioPciOptions } from './virtio-pci.js';

export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_CONSOLE_RECEIVEQ = 0;
export const VIRTIO_CONSOLE_TRANSMITQ = 1;
export const VIRTIO_CONSOLE_QUEUE_SIZE = 128;
/** Bytes waiting for the guest at most; more are dropped (and counted). */
export const VIRTIO_CONSOLE_PENDING_MAX = 65536;
/** Bytes taken from one transmit buffer at most; the rest are dropped (and counted). */
export const VIRTIO_CONSOLE_TX_MAX = 65536;
// struct virtio_console_config (§5.3.4): cols, rows, max_nr_ports, emerg_wr; none offered, all read 0.
const CONFIG_SIZE = 12;
const CLASS_SIMPLE_COMM_OTHER = 0x078000;

export interface VirtioConsoleOptions extends VirtioPciOptions {
  /** Bytes the guest wrote to the console. */
  output: (bytes: Uint8Array) => void;
}

/** Bytes from the host not yet given to the guest. */
export interface ConsoleState { pending: number[] }

export class VirtioConsole extends VirtioPci<ConsoleState> {
  readonly console = { received: 0, transmitted: 0, dropped: 0, rxBuffers: 0, txBuffers: 0 };
  private readonly output: (bytes: Uint8Array) => void;

  constructor(opts: VirtioConsoleOptions) {
    super('virtio-console', {
      virtioId: VIRTIO_ID_CONSOLE, classCode: CLASS_SIMPLE_COMM_OTHER, queueMax: [VIRTIO_CONSOLE_QUEUE_SIZE, VIRTIO_CONSOLE_QUEUE_SIZE],
      configSize: CONFIG_SIZE, features: 0,
    }, opts);
    this.output = opts.output;
  }

  protected freshDeviceState(): ConsoleState { return { pending: [] }; }
  protected deviceConfigRead(): number { return 0; }
  /** The host's bytes are the host's: a driver resetting the device (loading, say) does not lose them. */
  protected override keptOverReset(previous: ConsoleState): ConsoleState { return previous; }

  /** Host bytes for the guest: given now if it has posted buffers, else when it does. */
  send(bytes: Uint8Array): void {
    const pending = this.vio.device.pending;
    const room = Math.max(0, VIRTIO_CONSOLE_PENDING_MAX - pending.length);
    for (let i = 0; i < Math.min(room, bytes.length); i++) pending.push(bytes[i]!);
    this.console.dropped += Math.max(0, bytes.length - room);
    this.deliver();
  }

  /** Bytes waiting for receive buffers. */
  get pendingBytes(): number { return this.vio.device.pending.length; }

  protected queueNotified(q: number): void {
    if (q === VIRTIO_CONSOLE_RECEIVEQ) { this.deliverNow(); return; }
    for (let chain = this.pop(q); chain !== null; chain = this.pop(q)) {
      this.console.txBuffers++;
      const bytes = this.gather(chain, 0, VIRTIO_CONSOLE_TX_MAX);
      this.console.dropped += chain.readable - bytes.length;
      this.console.transmitted += bytes.length;
      this.used(q, chain, 0);
      if (bytes.length > 0) this.output(bytes);
    }
    this.notifyUsed(q);
  }

  protected override driverReady(): void { this.deliver(); }

  /** From the host side: a malformed receive queue found here sets DEVICE_NEEDS_RESET as a notification would. */
  private deliver(): void { this.guarded(() => this.deliverNow()); }

  private deliverNow(): void {
    const q = VIRTIO_CONSOLE_RECEIVEQ;
    const pending = this.vio.device.pending;
    let given = false;
    while (pending.length > 0 && this.live(q)) {
      const chain = this.pop(q);
      if (chain === null) break;
      this.console.rxBuffers++;
      const n = this.scatter(chain, 0, new Uint8Array(pending.slice(0, chain.writable)));
      pending.splice(0, n);
      this.console.received += n;
      this.used(q, chain, n);
      given = true;
    }
    if (given) this.notifyUsed(q);
  }
}
