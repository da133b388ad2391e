// A bounded packet capture for the page: a PcapTap (pcap.ts) whose records go into a ring that
// keeps the newest `limit` bytes of records, dropping the oldest whole records first, so a
// capture left running for hours cannot take the tab's memory. `bytes()` is always a valid pcap
// file: the global header, then the records still held, in order.
import type { NetLink } from './link';
import { pcapHeader, PcapTap } from './pcap';

/** What the page keeps by default: the last 16 MiB of traffic. */
export const CAPTURE_LIMIT = 16 << 20;

export class CaptureRing {
  /** Records dropped to stay under the limit. */
  dropped = 0;
  private readonly header = pcapHeader();
  private readonly records: Uint8Array[] = [];
  private head = 0;
  private held = 0;

  constructor(readonly limit = CAPTURE_LIMIT) {}

  /** Wraps `inner` in a tap recording into this ring. */
  tap(inner: NetLink): PcapTap {
    let first = true;
    return new PcapTap(inner, {
      keep: false,
      // The tap's first output is its global header, which the ring holds already.
      sink: (bytes) => {
        if (first) first = false;
        else this.add(bytes);
      },
    });
  }

  add(record: Uint8Array): void {
    this.records.push(record);
    this.held += record.length;
    while (this.held > this.limit && this.head < this.records.length) {
      this.held -= this.records[this.head]!.length;
      this.records[this.head++] = new Uint8Array(0);
      this.dropped++;
    }
    // Forget the dropped slots now and then rather than shifting the array on every record.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Records held now. */
  get count(): number {
    return this.records.length - this.head;
  }

  /** Bytes of records held now (the file is PCAP_GLOBAL_HEADER more). */
  get size(): number {
    return this.held;
  }

  /** The capture as a .pcap file. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.header.length + this.held);
    out.set(this.header, 0);
    let at = this.header.length;
    for (let i = this.head; i < this.records.length; i++) {
      out.set(this.records[i]!, at);
      at += this.records[i]!.length;
    }
    return out;
  }
}
