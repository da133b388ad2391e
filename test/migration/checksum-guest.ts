// The tiny guest the migration tests move while it runs (handover.test.ts, and the page
// worker's test/worker/worker-migrate.test.ts): each pass adds the pass number into every word
// of 1 MiB, XORs it with a countdown, and prints a rolling checksum of the words; then it waits
// without writing, so the guest outlasts a migration. The lines it must print are computed here,
// so a pass lost, run twice or run on both sides changes the output.
// The wait is a counted loop, so how long it lasts depends on the emulator's speed: about 30 ms
// a pass on the AMD EPYC host since 5f66ec9 made its DEC-JNZ about 4x faster (12 million turns,
// 3 million before). machine-migrate.test.ts ends its guest by a byte on the serial line instead.

/** Dwords the guest rewrites each pass: 1 MiB at 4 MiB. */
const WORDS = 0x40000;

/** The guest's program (test/machine/tiny-kernel.ts assembles it) for `passes` passes. */
export function checksumProgram(passes: number): string {
  return `
  xor ebp, ebp
outer:
  mov edi, 0x400000
  mov ecx, ${WORDS}
  xor ebx, ebx
.f: mov eax, [edi]
  add eax, ebp
  xor eax, ecx
  mov [edi], eax
  add ebx, eax
  rol ebx, 3
  add edi, 4
  dec ecx
  jnz .f
  mov eax, ebx
  call puthex
  mov ecx, 12000000         ; a pause that writes nothing: the guest outlasts the migration (see above)
.d: dec ecx
  jnz .d
  inc ebp
  cmp ebp, ${passes}
  jne outer
  jmp poweroff
`;
}

/** What the guest prints over `passes` passes: one checksum per line, 8 hex digits. */
export function expectedChecksums(passes: number): string {
  const mem = new Uint32Array(WORDS);
  let out = '';
  for (let pass = 0; pass < passes; pass++) {
    let sum = 0;
    for (let i = 0; i < WORDS; i++) {
      const x = ((mem[i]! + pass) ^ (WORDS - i)) >>> 0;
      mem[i] = x;
      sum = (sum + x) >>> 0;
      sum = ((sum << 3) | (sum >>> 29)) >>> 0;
    }
    out += `${sum.toString(16).padStart(8, '0')}\n`;
  }
  return out;
}
