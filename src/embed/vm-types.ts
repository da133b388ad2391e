// The <x86-vm> element's public types (x86-vm.ts): its states, its events' details and what its
// script API answers. A module of their own, so the element's file holds its behaviour.

export type X86VmState = 'idle' | 'loading' | 'booting' | 'restoring' | 'running' | 'paused' | 'off' | 'error';

export interface X86VmStateDetail {
  state: X86VmState;
  /** paused: 'hidden' (scrolled out of view), 'script' (pause()) or 'inspector' (its controls); off: why the machine stopped. */
  reason?: string;
}
export interface X86VmReadyDetail {
  from: 'boot' | 'snapshot';
  /** From the start of the boot or the restore to the prompt, in ms. */
  ms: number;
}
export interface X86VmStatus {
  state: string;
  /** Guest instructions retired since power-on: stands still while the guest is paused. */
  instructions: number;
  guestSeconds: number;
  /** The memory balloon: what the host asked for, what the guest gave, in MiB, and the guest driver's last statistics (bytes). */
  balloon?: { targetMiB: number; actualMiB: number; stats: Readonly<Record<string, number>> };
}

/**
 * sample()'s request and answer: src/inspector/sample.ts's InspectorRequest and InspectorSample
 * (the package declares them loosely, so it stays one file per public module).
 */
export type X86VmSampleRequest = { walk?: number; disassemble?: number; tables?: boolean; mtree?: boolean; memory?: { address: number; physical: boolean; length: number } };
export type X86VmSample = { at: number; state: string; cpu: { instructions: number }; counters: object };

/** One pre-copy round of a live migration: pages sent (zero pages among them), pages the guest dirtied meanwhile. */
export type X86VmMigrationRound = { round: number; pages: number; zeroPages: number; dirtied: number; bytes: number; ms: number };
/** A finished migration: its rounds, the time the guest was stopped, the whole time, and all that in one line. */
export type X86VmMigration = { rounds: X86VmMigrationRound[]; downtimeMs: number; totalMs: number; text: string };
