// System Control Port A (port 0x92 on PS/2 and PIIX-era chipsets): the "fast A20" gate and a
// fast CPU reset, without going through the slow 8042. PIIX3 datasheet §4.7.2 (PORT92).

import type { IoDevice, IoSize } from '../machine/io';

const PORT92_FAST_RESET = 0x01; // a 0->1 transition pulses INIT (CPU reset)
const PORT92_FAST_A20 = 0x02;   // 1 = A20 enabled
const PORT92_WRITABLE = PORT92_FAST_RESET | PORT92_FAST_A20;

export interface Port92State { value: number; guestErrors: number }

export class Port92 implements IoDevice {
  readonly name = 'port92';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state: Port92State = { value: 0, guestErrors: 0 };

  constructor(private readonly onA20: (enabled: boolean) => void = () => {},
              private readonly onReset: () => void = () => {}) {}

  reset(): void { this.state = { value: 0, guestErrors: 0 }; }

  loadState(state: Port92State): void { this.state = { ...state }; }

  get a20(): boolean { return (this.state.value & PORT92_FAST_A20) !== 0; }

  read(offset: number, _size: IoSize): number {
    if (offset !== 0) { this.state.guestErrors++; return 0xff; }
    return this.state.value;
  }

  write(offset: number, _size: IoSize, value: number): void {
    if (offset !== 0) { this.state.guestErrors++; return; }
    const old = this.state.value;
    this.state.value = value & PORT92_WRITABLE;
    if ((old ^ value) & PORT92_FAST_A20) this.onA20((value & PORT92_FAST_A20) !== 0);
    if (!(old & PORT92_FAST_RESET) && (value & PORT92_FAST_RESET)) this.onReset();
  }
}
