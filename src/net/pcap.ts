// A capture tap: a NetLink wrapped around another, passing every frame through unchanged and
// recording it, both directions, in the classic libpcap file format (tcpdump/Wireshark read it):
// a 24-byte global header (magic 0xa1b2c3d4 little-endian, version 2.4, snaplen, LINKTYPE_ETHERNET
// = 1), then per packet a 16-byte record header (seconds, microseconds, captured and original
// length) and the frame. See https://www.tcpdump.org/manpages/pcap-savefile.5.html and
// https://www.tcpdump.org/linktypes.html. Works in the browser; pcap-file.ts adds Node file output.
import type { NetLink } from './link';

export const PCAP_MAGIC = 0xa1b2c3d4;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
/** LINKTYPE_ETHERNET: IEEE 802.3 frames without FCS. */
export const LINKTYPE_ETHERNET = 1;
export const PCAP_SNAPLEN = 65535;
export const PCAP_GLOBAL_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;

/** The 24-byte pcap global header. */
export function pcapHeader(snaplen = PCAP_SNAPLEN): Uint8Array {
  const h = new Uint8Array(PCAP_GLOBAL_HEADER);
  const v = new DataView(h.buffer);
  v.setUint32(0, PCAP_MAGIC, true);
  v.setUint16(4, PCAP_VERSION_MAJOR, true);
  v.setUint16(6, PCAP_VERSION_MINOR, true);
  v.setInt32(8, 0, true); // thiszone: timestamps are UTC
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, snaplen, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

/** One record: header plus the frame cut to snaplen. `timeMs` is Unix time in milliseconds. */
export function pcapRecord(frame: Uint8Array, timeMs: number, snaplen = PCAP_SNAPLEN): Uint8Array {
  const caplen = Math.min(frame.length, snaplen);
  const r = new Uint8Array(PCAP_RECORD_HEADER + caplen);
  const v = new DataView(r.buffer);
  const us = Math.max(0, Math.round(timeMs * 1000));
  v.setUint32(0, Math.floor(us / 1e6), true);
  v.setUint32(4, us % 1e6, true);
  v.setUint32(8, caplen, true);
  v.setUint32(12, frame.length, true);
  r.set(frame.subarray(0, caplen), PCAP_RECORD_HEADER);
  return r;
}

export interface PcapTapOptions {
  /** Where each record goes as it is made (a file writer); records are also kept unless `keep` is false. */
  sink?: (bytes: Uint8Array) => void;
  /** Keep the records in memory for `bytes()` (default true). */
  keep?: boolean;
  /** Clock in Unix milliseconds (default Date.now; tests pass a fixed one). */
  now?: () => number;
  snaplen?: number;
}

/** Wraps `inner`: the device holds the tap as its link, the tap holds `inner`. */
export class PcapTap implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  /** Frames recorded so far, both directions. */
  count = 0;
  private readonly chunks: Uint8Array[] = [];
  private readonly inner: NetLink;
  private readonly opts: PcapTapOptions;

  constructor(inner: NetLink, opts: PcapTapOptions = {}) {
    this.inner = inner;
    this.opts = opts;
    this.emit(pcapHeader(opts.snaplen));
    inner.onFrame = (frame) => {
      this.record(frame);
      this.onFrame?.(frame);
    };
  }

  send(frame: Uint8Array): void {
    this.record(frame);
    this.inner.send(frame);
  }

  close(): void {
    this.inner.onFrame = null;
    this.inner.close();
  }

  // A tap is transparent: the backend behind it keeps and gets its own state.
  saveState(): unknown {
    return this.inner.saveState?.() ?? null;
  }

  restored(saved: unknown): string | null {
    return this.inner.restored?.(saved) ?? null;
  }

  /** The capture file so far: global header and every record. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private record(frame: Uint8Array): void {
    this.count++;
    this.emit(pcapRecord(frame, (this.opts.now ?? Date.now)(), this.opts.snaplen));
  }

  private emit(bytes: Uint8Array): void {
    if (this.opts.keep !== false) this.chunks.push(bytes);
    this.opts.sink?.(bytes);
  }
}
