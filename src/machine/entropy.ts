// Random bytes for the guest's entropy device in a deterministic run, where the host's own
// randomness would make two runs differ: xorshift128 (Marsaglia, "Xorshift RNGs", 2003), seeded.
// Not for secrets: a deterministic machine is for tests and teaching, and says so.
//
// The generator's state is machine state like any device's (registered beside virtio-rng):
// a machine loaded from a snapshot goes on with the bytes the saved one would have given next,
// not with the seed's first ones again, which would send the guest's random numbers (and so
// its address-space layout, its hash seeds ...) down another path than the saved machine's.

import type { RegisteredDevice } from './registry.js';

interface SeededState { x: number; y: number; z: number; w: number }

export class SeededRandom implements RegisteredDevice {
  readonly stateVersion = 1;
  private s: SeededState;

  constructor(private readonly seed: number) {
    this.s = SeededRandom.start(seed);
  }

  private static start(seed: number): SeededState {
    return { x: seed >>> 0 || 1, y: 362436069, z: 521288629, w: 88675123 };
  }

  /** A power-on starts the same sequence again. */
  reset(): void { this.s = SeededRandom.start(this.seed); }

  get state(): SeededState { return { ...this.s }; }

  loadState(state: SeededState): void {
    const [x, y, z, w] = [state.x, state.y, state.z, state.w].map((v) => Number(v) >>> 0) as [number, number, number, number];
    // All zero is xorshift's one fixed point (zeros for ever): a state no generator reaches.
    this.s = (x | y | z | w) === 0 ? SeededRandom.start(this.seed) : { x, y, z, w };
  }

  private next(): number {
    const s = this.s;
    const t = (s.x ^ (s.x << 11)) >>> 0;
    s.x = s.y; s.y = s.z; s.z = s.w;
    s.w = (s.w ^ (s.w >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    return s.w;
  }

  /** Fill `buffer` with the next bytes: the same ones for the same seed, run after run. */
  readonly fill = (buffer: Uint8Array): void => {
    for (let i = 0; i < buffer.length; i += 4) {
      const v = this.next();
      for (let k = 0; k < 4 && i + k < buffer.length; k++) buffer[i + k] = (v >>> (8 * k)) & 0xff;
    }
  };
}
