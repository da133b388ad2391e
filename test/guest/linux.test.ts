// Boot the default guest (Debian's i686 kernel + busybox initramfs) in deterministic mode
// through the Machine API, use its shell, power it off; twice, and the two serial logs must
// be byte-identical. The outputs are checked against independent sources: the image manifest,
// arithmetic, the same floating-point sum computed in JS, and node's own SHA-256 of the same data.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';

const IMAGES = resolve(__dirname, '../../build/images');
const MANIFEST = join(IMAGES, 'default.json');
const haveImages = existsSync(MANIFEST);
if (!haveImages) console.warn(`guest test skipped: ${MANIFEST} missing (run npm run build:images)`);

/** Host time one boot-use-poweroff session may take with the interpreter (generous). */
const BOOT_TIMEOUT_MS = Number(process.env.WEBX86_GUEST_TIMEOUT_MIN ?? 25) * 60_000;

interface Manifest {
  kernel: string; vmlinux?: string; initrd: string; cmdline: string; prompt: string; kernelRelease: string;
}


/**
 * A scripted serial console session. Each step waits for the prompt and then types the next
 * command from inside onSerial, synchronously: the Machine hands output over when the guest
 * idles, so the command reaches the guest at the same point of its execution in every
 * deterministic run (answering later, from a promise callback, would depend on host timing).
 */
class Session {
  private chunks: Uint8Array[] = [];
  text = '';
  machine!: Machine;
  /** Output of each command: text between its echoed line and the next prompt, CRs removed. */
  readonly outputs: string[] = [];
  private step = 0;
  private searchFrom = 0;

  constructor(private readonly prompt: string, private readonly commands: string[]) {}

  /** Inside an escape sequence (ESC [ ... final byte) that the text leaves out. */
  private escape = 0;

  onSerial = (bytes: Uint8Array): void => {
    this.chunks.push(bytes.slice());
    // The text the steps look at leaves out terminal escape sequences (busybox's line editor
    // asks for the cursor position, ESC [ 6 n, after each prompt).
    let t = '';
    for (const b of bytes) {
      if (this.escape === 1) this.escape = b === 0x5b ? 2 : 0;
      else if (this.escape === 2) { if (b >= 0x40 && b <= 0x7e) this.escape = 0; }
      else if (b === 0x1b) this.escape = 1;
      else t += String.fromCharCode(b);
    }
    this.text += t;
    // Step 0 waits for the first prompt; step k > 0 for the prompt after command k-1. Kernel
    // messages may follow a prompt, so the prompt need not be the last thing printed.
    while (this.step <= this.commands.length) {
      const marker = this.step === 0 ? this.prompt : `\n${this.prompt}`;
      const at = this.text.indexOf(marker, this.searchFrom);
      if (at < 0) return;
      if (this.step > 0) {
        const out = this.text.slice(this.searchFrom, at + 1);
        const nl = out.indexOf('\n'); // drop the echoed command line
        this.outputs.push(out.slice(nl + 1).replace(/\r/g, ''));
      }
      const cmd = this.commands[this.step];
      this.step++;
      this.searchFrom = this.text.length;
      if (cmd === undefined) return;
      this.machine.sendSerial(new TextEncoder().encode(`${cmd}\n`));
    }
  };

  tail(): string {
    return JSON.stringify(this.text.slice(-2000));
  }

  progress(): string {
    const st = this.machine.status();
    return `step ${this.step}/${this.commands.length + 1}, machine ${st.state}, ${st.instructions} instructions, ` +
      `${st.guestSeconds.toFixed(2)} guest s${st.error ? `, error: ${st.error}` : ''}; last serial output: ${this.tail()}`;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks.map((b) => Buffer.from(b)));
  }
}

const COMMANDS = [
  'uname -a',
  'cat /proc/cpuinfo',
  'echo $((6*7))',
  // Debian's busybox awk has no libm functions (atan2 ...), but does its arithmetic in x87
  // doubles: the partial sum of 1/i^2, checked against the same sum computed here.
  `awk 'BEGIN{s=0;for(i=1;i<=20000;i++)s+=1/(i*i);printf "%.9f\\n",s}'`,
  'seq 1 20000 | sha256sum',
  // Interrupt controllers in use: twice, one guest second apart, so counters can be seen moving.
  'cat /proc/interrupts; sleep 1; cat /proc/interrupts',
];

/** One /proc/interrupts listing: per IRQ (or LOC/NMI ...) the count, the chip and the name. */
function parseInterrupts(text: string): Map<string, { count: number; rest: string }> {
  const rows = new Map<string, { count: number; rest: string }>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\w+):\s+(\d+)\s*(.*)$/.exec(line);
    if (m) rows.set(m[1]!, { count: Number(m[2]), rest: m[3]!.trim() });
  }
  return rows;
}

/** The two listings of the /proc/interrupts step. */
function interruptListings(out: string): [ReturnType<typeof parseInterrupts>, ReturnType<typeof parseInterrupts>] {
  const parts = out.split(/^\s+CPU0\s*$/m).slice(1);
  if (parts.length !== 2) throw new Error(`expected two /proc/interrupts listings, got: ${JSON.stringify(out)}`);
  return [parseInterrupts(parts[0]!), parseInterrupts(parts[1]!)];
}

interface Results { log: Buffer; text: string; outputs: string[] }

async function bootAndUse(m: Manifest, commands = COMMANDS, apic = true, clock: 'deterministic' | 'realtime' = 'deterministic'): Promise<Results> {
  const s = new Session(m.prompt, [...commands, 'poweroff -f']);
  s.machine = await Machine.create(
    {
      memoryMiB: 128,
      kernel: new Uint8Array(readFileSync(join(IMAGES, m.kernel))),
      vmlinux: m.vmlinux && existsSync(join(IMAGES, m.vmlinux)) ? new Uint8Array(readFileSync(join(IMAGES, m.vmlinux))) : undefined,
      initrd: new Uint8Array(readFileSync(join(IMAGES, m.initrd))),
      cmdline: m.cmdline,
      clock,
      apic,
    },
    { onSerial: s.onSerial },
  );
  const exit = s.machine.run();
  let timedOut = '';
  const timer = setTimeout(() => {
    timedOut = `timed out (${(BOOT_TIMEOUT_MS / 60_000).toFixed(0)} min): ${s.progress()}`;
    s.machine.stop();
  }, BOOT_TIMEOUT_MS);
  try {
    const reason = await exit;
    if (timedOut) throw new Error(timedOut);
    // 'poweroff' comes after the last command was typed; anything else is a failure.
    if (reason !== 'poweroff') throw new Error(`machine exited with '${reason}': ${s.progress()}`);
    if (s.outputs.length !== commands.length) throw new Error(`powered off early: ${s.progress()}`);
  } finally {
    clearTimeout(timer);
  }
  return { log: s.bytes(), text: s.text, outputs: s.outputs };
}

describe.skipIf(!haveImages)('Linux guest (deterministic)', () => {
  it('boots to a shell, runs commands, powers off, and does it identically twice', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const first = await bootAndUse(m);
    const [uname, cpuinfo, arith, basel, sha256, interrupts] = first.outputs as string[] as [string, string, string, string, string, string];
    const o = { uname, cpuinfo, arith, basel, sha: sha256 };

    expect(o.uname).toMatch(/^Linux \S+ /);
    expect(o.uname).toContain(m.kernelRelease);
    expect(o.uname).toMatch(/\bi[56]86\b/);

    expect(o.cpuinfo).toMatch(/^processor\s*:\s*0$/m);
    expect(o.cpuinfo).toMatch(/^vendor_id\s*:\s*\S+/m);
    expect(o.cpuinfo).toMatch(/^fpu\s*:\s*yes$/m);
    expect(o.cpuinfo).toMatch(/^flags\s*:.*\bfpu\b.*\btsc\b/m);

    expect(o.arith.trim()).toBe(String(6 * 7));
    let sum = 0;
    for (let i = 1; i <= 20000; i++) sum += 1 / (i * i);
    // x87 extended-precision intermediates may differ from JS doubles in the last bits only.
    expect(Math.abs(Number(o.basel.trim()) - sum)).toBeLessThan(2e-9);
    expect(o.basel.trim()).toMatch(/^1\.6448840\d\d$/);

    const data = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
    const sha = createHash('sha256').update(data).digest('hex');
    expect(o.sha.trim()).toBe(`${sha}  -`);

    // The kernel found the APICs through the MP table and routes the PIT through IO-APIC pin 2.
    expect(first.text).toContain('Intel MultiProcessor Specification v1.4');
    expect(first.text).toMatch(/IOAPIC\[0\]: apic_id 1, version 17, address 0xfec00000, GSI 0-23/);
    expect(first.text).toMatch(/\.\.TIMER: vector=0x30 apic1=0 pin1=2 /);
    expect(first.text).not.toContain('Local APIC disabled by BIOS');
    expect(o.cpuinfo).toMatch(/^flags\s*:.*\bapic\b/m);
    const [before, after] = interruptListings(interrupts);
    expect(after.get('0')?.rest).toMatch(/^IO-APIC\s+2-edge\s+timer$/);
    expect(after.get('4')?.rest).toMatch(/^IO-APIC\s+4-edge\s+ttyS0$/);
    expect(after.get('4')!.count).toBeGreaterThan(0);
    // The local APIC timer is the tick now: it counts (HZ=250 while busy; at least some in 1 s).
    expect(before.get('LOC')!.count).toBeGreaterThan(0);
    expect(after.get('LOC')!.count).toBeGreaterThan(before.get('LOC')!.count + 10);

    const second = await bootAndUse(m);
    if (!first.log.equals(second.log)) {
      let i = 0;
      while (i < first.log.length && first.log[i] === second.log[i]) i++;
      const ctx = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, i - 200), i + 200).toString('latin1'));
      throw new Error(`serial logs differ at byte ${i} (lengths ${first.log.length} / ${second.log.length}):\n` +
        `first:  ${ctx(first.log)}\nsecond: ${ctx(second.log)}`);
    }
  }, 2 * BOOT_TIMEOUT_MS + 60_000);

  it('boots in realtime mode (guest time follows the host clock), with the APIC timer', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const t0 = Date.now();
    const r = await bootAndUse(m, ['echo $((6*7))', 'sleep 1; echo slept'], true, 'realtime');
    expect(r.outputs[0]!.trim()).toBe('42');
    expect(r.outputs[1]!.trim()).toBe('slept');
    // A guest second passes in about a host second (generous bounds for a loaded CI machine).
    expect(Date.now() - t0).toBeGreaterThan(1000);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('boots the old way without APICs (8259 only)', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    const r = await bootAndUse(m, ['cat /proc/cpuinfo', 'cat /proc/interrupts; sleep 1; cat /proc/interrupts'], false);
    expect(r.text).toContain('Local APIC disabled by BIOS');
    expect(r.text).not.toContain('Intel MultiProcessor Specification');
    expect(r.outputs[0]).not.toMatch(/^flags\s*:.*\bapic\b/m);
    const [before, after] = interruptListings(r.outputs[1]!);
    expect(after.get('0')?.rest).toMatch(/^XT-PIC\s+timer$/);
    expect(after.get('0')!.count).toBeGreaterThan(before.get('0')!.count + 10);
    expect(after.get('LOC')!.count).toBe(0);
  }, BOOT_TIMEOUT_MS + 60_000);
});
