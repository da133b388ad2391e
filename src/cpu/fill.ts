// Filling guest memory from the host. The core's memory is shared (asm-core/build.mjs), and V8
// fills a Uint8Array on shared memory one byte at a time: 128 MiB took 90 ms, against 10 ms for a
// Uint32Array's fill of the same bytes. So the word-aligned middle is filled by words.

/** Set view[from..to) to the byte `value`, as view.fill(value, from, to) does. */
export function fillBytes(view: Uint8Array, value: number, from = 0, to = view.length): void {
  const n = view.length;
  const at = (i: number) => Math.min(n, i < 0 ? Math.max(0, n + i) : i); // negative: from the end, as fill()
  from = at(Math.trunc(from));
  to = Math.max(from, at(Math.trunc(to)));
  const b = value & 0xff;
  // First and last whole words of the range, in the buffer's own word alignment.
  const abs = view.byteOffset + from;
  const wordStart = Math.min(to, from + ((4 - (abs & 3)) & 3));
  const words = (to - wordStart) >> 2;
  if (words < 16) { view.fill(b, from, to); return; }
  view.fill(b, from, wordStart);
  new Uint32Array(view.buffer, view.byteOffset + wordStart, words).fill(b * 0x01010101);
  view.fill(b, wordStart + words * 4, to);
}
