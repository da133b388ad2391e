// Two write-mostly diagnostic ports of the PC world:
//  - the POST code port (0x80): firmware writes progress codes; Linux uses it for I/O delays.
//  - the Bochs/QEMU debug console (0xE9): every byte written is a character for the host;
//    reading returns 0xE9 so software can tell the port is there.

import type { IoDevice, IoSize } from '../machine/io';

export interface PostCodePortState { code: number; writes: number }

export class PostCodePort implements IoDevice {
  readonly name = 'post-code';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: PostCodePortState = { code: 0, writes: 0 };

  constructor(private readonly onCode: (code: number) => void = () => {}) {}

  reset(): void { this.state = { code: 0, writes: 0 }; }
  loadState(state: PostCodePortState): void { this.state = { ...state }; }

  read(_offset: number, _size: IoSize): number {
    return this.state.code; // a POST card latch reads back the last code
  }

  write(offset: number, _size: IoSize, value: number): void {
    if (offset !== 0) return;
    this.state.code = value & 0xff;
    this.state.writes++;
    this.onCode(this.state.code);
  }
}

/** What a read of the debug console port returns (the "port E9 hack" presence check). */
export const DEBUGCON_READBACK = 0xe9;

export interface DebugConsolePortState { bytes: number }

export class DebugConsolePort implements IoDevice {
  readonly name = 'debugcon';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: DebugConsolePortState = { bytes: 0 };

  constructor(private readonly onByte: (byte: number) => void) {}

  reset(): void { this.state = { bytes: 0 }; }
  loadState(state: DebugConsolePortState): void { this.state = { ...state }; }

  read(_offset: number, _size: IoSize): number { return DEBUGCON_READBACK; }

  write(offset: number, size: IoSize, value: number): void {
    if (offset !== 0) return;
    // A wider OUT carries its bytes low first, as the port would see them one by one.
    for (let i = 0; i < size; i++) {
      this.onByte((value >>> (8 * i)) & 0xff);
      this.state.bytes++;
    }
  }
}
