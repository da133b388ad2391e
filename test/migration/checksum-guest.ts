// The tiny guest the migration tests move while it runs (handover.test.ts, and the page
// worker's test/worker/worker-migrate.test.ts): each pass adds the pass number into every word
// of 1 MiB, XORs it with a countdown, and prints a rolling checksum of the words. The lines it
// must print are computed here, so a pass lost, run twice or run on both sides changes the output.
// The guest stops after the pass in which a byte arrived on its serial line (LAST_PASS), which a
// test sends once the machine that should finish is known: however fast the emulator runs the
// passes, the guest still runs when a migration starts and ends. A machine that gets the byte
// during the pause after a pass stops before the next one, so it may print nothing itself.

/** Dwords the guest rewrites each pass: 1 MiB at 4 MiB. */
const WORDS = 0x40000;

/** The guest's program (test/machine/tiny-kernel.ts assembles it). */
export const CHECKSUM_PROGRAM = `
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
  mov ecx, 2000000          ; a pause that writes nothing: fewer lines to check
.d: dec ecx
  jnz .d
  inc ebp
  mov dx, 0x3fd
  in al, dx
  test al, 1                ; LSR.DR: the test sent a byte, the last pass is done
  jz outer
  jmp poweroff
`;

/** The byte that ends the guest's run after its current pass. */
export const LAST_PASS = Uint8Array.of(0x0a);

const mem = new Uint32Array(WORDS);
const passLines: string[] = [];

/** What the guest prints over `passes` passes: one checksum per line, 8 hex digits. */
export function expectedChecksums(passes: number): string {
  for (let pass = passLines.length; pass < passes; pass++) {
    let sum = 0;
    for (let i = 0; i < WORDS; i++) {
      const x = ((mem[i]! + pass) ^ (WORDS - i)) >>> 0;
      mem[i] = x;
      sum = (sum + x) >>> 0;
      sum = ((sum << 3) | (sum >>> 29)) >>> 0;
    }
    passLines.push(`${sum.toString(16).padStart(8, '0')}\n`);
  }
  return passLines.slice(0, passes).join('');
}

/**
 * What a whole run must print, given what it printed: as many checksums as it printed lines.
 * Compare the run's text with it; a run of no pass at all is wrong too.
 */
export function wholeRun(text: string): string {
  const passes = text.split('\n').length - 1;
  if (passes === 0) return '(at least one pass)';
  return expectedChecksums(passes);
}
