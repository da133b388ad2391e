// Random bytes for the guest's entropy device in a deterministic run, where the host's own
// randomness would make two runs differ: xorshift128 (Marsaglia, "Xorshift RNGs", 2003), seeded.
// Not for secrets: a deterministic machine is for tests and teaching, and says so.

/** A generator that fills buffers with the same bytes for the same seed, run after run. */
export function seededRandom(seed: number): (buffer: Uint8Array) => void {
  let x = seed >>> 0 || 1, y = 362436069, z = 521288629, w = 88675123;
  const next = (): number => {
    const t = (x ^ (x << 11)) >>> 0;
    x = y; y = z; z = w;
    w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    return w;
  };
  return (buffer) => {
    for (let i = 0; i < buffer.length; i += 4) {
      const v = next();
      for (let k = 0; k < 4 && i + k < buffer.length; k++) buffer[i + k] = (v >>> (8 * k)) & 0xff;
    }
  };
}
