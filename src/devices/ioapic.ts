// Intel 82093AA I/O APIC (datasheet 290566): 24 interrupt inputs, each with a 64-bit redirection
// entry, reached through an index register (IOREGSEL, offset 0x00) and a data window (IOWIN,
// offset 0x10) in its MMIO page. Messages go to local APICs through `deliver`, which the Machine
// routes; the local APIC's EOI of a level-triggered vector comes back through `eoi(vector)`.
//
// Inputs carry the logical "asserted" level: the board's wiring (and so the polarity the firmware
// programs) is the Machine's business, so the polarity bit is stored but not applied.

import type { IoDevice, IoSize } from '../machine/io';

const IOREGSEL = 0x00;
const IOWIN = 0x10;
// Indirect registers
const IOAPICID = 0x00;
const IOAPICVER = 0x01;
const IOAPICARB = 0x02;
const IOREDTBL = 0x10;        // entry n: low dword at 0x10 + 2n, high dword at 0x11 + 2n
export const IOAPIC_PINS = 24;
/** IOAPICVER bits 0-7. */
export const IOAPIC_VERSION = 0x11;
/** Version 0x11, maximum redirection entry 23. */
const IOAPIC_VERSION_VALUE = ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
const IOAPICID_MASK = 0x0f000000;
// Redirection entry, low dword
const RTE_VECTOR = 0xff;
const RTE_DELIVERY_MODE_SHIFT = 8;
const RTE_DEST_LOGICAL = 1 << 11;
const RTE_DELIVERY_STATUS = 1 << 12; // read-only
const RTE_POLARITY_LOW = 1 << 13;
const RTE_REMOTE_IRR = 1 << 14;      // read-only
const RTE_LEVEL_TRIGGER = 1 << 15;
const RTE_MASKED = 1 << 16;
const RTE_LOW_WMASK = RTE_VECTOR | (7 << RTE_DELIVERY_MODE_SHIFT) | RTE_DEST_LOGICAL | RTE_POLARITY_LOW |
                      RTE_LEVEL_TRIGGER | RTE_MASKED;
const RTE_HIGH_WMASK = 0xff000000;   // destination field
/** Delivery modes of a redirection entry (the same encoding as the local APIC's). */
export const IOAPIC_DELIVERY_FIXED = 0;
export const IOAPIC_DELIVERY_LOWEST = 1;
export const IOAPIC_DELIVERY_SMI = 2;
export const IOAPIC_DELIVERY_NMI = 4;
export const IOAPIC_DELIVERY_INIT = 5;
export const IOAPIC_DELIVERY_EXTINT = 7;
const DM_FIXED = IOAPIC_DELIVERY_FIXED, DM_LOWEST = IOAPIC_DELIVERY_LOWEST;

export interface IoapicMessage {
  vector: number;
  deliveryMode: number;
  logical: boolean;
  destination: number;
  levelTriggered: boolean;
}

export interface IoapicState {
  ioregsel: number;
  id: number;
  redirLow: Uint32Array;   // IOAPIC_PINS entries
  redirHigh: Uint32Array;
  lines: number;           // bit n = input n asserted
  guestErrors: number;
}

export class Ioapic implements IoDevice {
  readonly name = 'ioapic';
  /** Version of `state`'s format (machine/registry.ts): bump it when the format changes. */
  readonly stateVersion = 1;
  state!: IoapicState;

  constructor(private readonly deliver: (msg: IoapicMessage) => void, private readonly apicId = 0) {
    this.state = this.freshState(0);
  }

  private freshState(lines: number): IoapicState {
    return {
      ioregsel: 0, id: (this.apicId << 24) & IOAPICID_MASK,
      redirLow: new Uint32Array(IOAPIC_PINS).fill(RTE_MASKED), redirHigh: new Uint32Array(IOAPIC_PINS),
      lines, guestErrors: 0,
    };
  }

  reset(): void { this.state = this.freshState(this.state.lines); }

  loadState(state: IoapicState): void {
    this.state = { ...state, redirLow: new Uint32Array(state.redirLow), redirHigh: new Uint32Array(state.redirHigh) };
  }

  /** Drive input `pin` (0..23). */
  setIrq(pin: number, level: boolean): void {
    if (!(pin >= 0 && pin < IOAPIC_PINS)) return;
    const s = this.state;
    const bit = 1 << pin;
    const rising = level && !(s.lines & bit);
    if (level) s.lines |= bit; else s.lines &= ~bit;
    const low = s.redirLow[pin];
    if (low & RTE_LEVEL_TRIGGER) { if (level) this.service(pin); }
    else if (rising && !(low & RTE_MASKED)) this.send(pin);
  }

  /** Send a level-triggered entry if it is asserted, unmasked and not waiting for its EOI. */
  private service(pin: number): void {
    const s = this.state;
    const low = s.redirLow[pin];
    if ((low & RTE_MASKED) || !(low & RTE_LEVEL_TRIGGER) || !(s.lines & (1 << pin)) || (low & RTE_REMOTE_IRR)) return;
    this.send(pin);
  }

  private send(pin: number): void {
    const s = this.state;
    const low = s.redirLow[pin];
    const mode = (low >> RTE_DELIVERY_MODE_SHIFT) & 7;
    const level = (low & RTE_LEVEL_TRIGGER) !== 0;
    // Remote IRR: a level interrupt accepted by a local APIC, until its EOI comes back.
    if (level && (mode === DM_FIXED || mode === DM_LOWEST)) s.redirLow[pin] = (low | RTE_REMOTE_IRR) >>> 0;
    this.deliver({
      vector: low & RTE_VECTOR, deliveryMode: mode, logical: (low & RTE_DEST_LOGICAL) !== 0,
      destination: s.redirHigh[pin] >>> 24, levelTriggered: level,
    });
  }

  /** A local APIC's EOI for `vector` (level-triggered): clear Remote IRR, resend if still asserted. */
  eoi(vector: number): void {
    const s = this.state;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const low = s.redirLow[pin];
      if ((low & RTE_VECTOR) === (vector & 0xff) && (low & RTE_REMOTE_IRR)) {
        s.redirLow[pin] = (low & ~RTE_REMOTE_IRR) >>> 0;
        this.service(pin);
      }
    }
  }

  private readRegister(index: number): number {
    const s = this.state;
    if (index === IOAPICID) return s.id;
    if (index === IOAPICVER) return IOAPIC_VERSION_VALUE;
    if (index === IOAPICARB) return s.id; // arbitration ID loads from the APIC ID
    if (index >= IOREDTBL && index < IOREDTBL + 2 * IOAPIC_PINS) {
      const pin = (index - IOREDTBL) >> 1;
      return index & 1 ? s.redirHigh[pin] : s.redirLow[pin] & ~RTE_DELIVERY_STATUS; // sent at once: idle
    }
    s.guestErrors++;
    return 0;
  }

  private writeRegister(index: number, value: number): void {
    const s = this.state;
    if (index === IOAPICID) { s.id = value & IOAPICID_MASK; return; }
    if (index >= IOREDTBL && index < IOREDTBL + 2 * IOAPIC_PINS) {
      const pin = (index - IOREDTBL) >> 1;
      if (index & 1) { s.redirHigh[pin] = (value & RTE_HIGH_WMASK) >>> 0; return; }
      const old = s.redirLow[pin];
      let v = (old & ~RTE_LOW_WMASK) | (value & RTE_LOW_WMASK);
      if (!(v & RTE_LEVEL_TRIGGER)) v &= ~RTE_REMOTE_IRR; // Remote IRR is undefined for edge entries
      s.redirLow[pin] = v >>> 0;
      this.service(pin); // unmasking an asserted level input sends it
      return;
    }
    if (index !== IOAPICVER && index !== IOAPICARB) s.guestErrors++;
  }

  read(offset: number, size: IoSize): number {
    const s = this.state;
    if (offset === IOREGSEL) return s.ioregsel;
    if (offset === IOWIN && size === 4) return this.readRegister(s.ioregsel) >>> 0;
    s.guestErrors++;
    return 0;
  }

  write(offset: number, size: IoSize, value: number): void {
    const s = this.state;
    if (offset === IOREGSEL) { s.ioregsel = value & 0xff; return; }
    if (offset === IOWIN && size === 4) { this.writeRegister(s.ioregsel, value >>> 0); return; }
    s.guestErrors++;
  }
}
