// gdb (Debian's package) against `webx86 run --gdb tcp::0` with the default Linux guest: it
// attaches and finds the guest stopped in the kernel, reads the registers and memory (the same
// words the monitor's x shows), sets a breakpoint at a kernel function's address from the
// guest's /proc/kallsyms, continues, and stops there when the guest calls it; stepi advances
// EIP by one instruction; it reads the x87 control word; a hardware access watchpoint on the
// word below the stack pointer stops at the push that writes it; after detach the guest answers
// on its console. A second VM asking for
// the same port is refused in one line.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { BIN, TerminalCli } from './terminal-cli.js';

const haveGdb = spawnSync('gdb', ['--version']).status === 0;
const haveImages = haveBuildOutputs('the gdb stub guest test (test/guest/gdb.test.ts)', guestFiles());
/** A function the guest's uname(2) runs through (i386 syscall wrappers, 6.1). */
const SYMBOL = '__ia32_sys_newuname';

/** gdb -batch with `commands`: its exit status and output. */
function gdbBatch(commands: string[]): Promise<{ status: number | null; out: string }> {
  const args = ['-batch', '-nx', ...commands.flatMap((c) => ['-ex', c])];
  const child = spawn('gdb', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d: Buffer) => { out += d.toString(); };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const timer = setTimeout(() => child.kill(), 180_000);
  return new Promise((done) => child.on('exit', (status) => { clearTimeout(timer); done({ status, out }); }));
}

describe.skipIf(!haveImages || !haveGdb)('Linux guest under gdb (run --gdb)', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };

  it('registers, memory, a breakpoint at a kernel function, stepi, detach', async () => {
    const vm = new TerminalCli(['run', '--memory', '96', '--gdb', 'tcp::0']);
    try {
      const at = await vm.waitFor(/gdb stub on tcp:127\.0\.0\.1:\d+/, 0);
      const port = Number(/(\d+)$/.exec(vm.text.slice(0, at))![1]);
      await vm.waitFor(m.prompt, 0);
      await vm.quiet();
      const sym = await vm.shell(`grep ' T ${SYMBOL}$' /proc/kallsyms`, 'K');
      const found = new RegExp(`^([0-9a-f]{8}) T ${SYMBOL}$`).exec(sym.trim());
      expect(found, sym).not.toBeNull();
      const addr = parseInt(found![1]!, 16);
      expect(addr).toBeGreaterThanOrEqual(0xc0000000);
      const hexAddr = `0x${addr.toString(16)}`;

      const running = gdbBatch([
        'set architecture i386',
        `target remote :${port}`,
        'info registers eip cs',
        // At the idle loop's HLT: the first stepi waits for an interrupt and comes back to the
        // same EIP, the next ones execute the instructions after the HLT.
        'stepi',
        'info registers eip',
        'stepi',
        'info registers eip',
        `x/4xw ${hexAddr}`,
        `break *${hexAddr}`,
        'continue',
        'info registers eip',
        'stepi',
        'info registers eip',
        // The x87 control word of the task in the system call: Linux starts every task's x87
        // state with FCW 037FH, the value FNINIT loads (SDM vol. 1, 8.1.5), and busybox keeps it.
        'p/x $fctrl',
        'delete',
        // A hardware watchpoint (Z4) on the word below the stack pointer, which the function's
        // next push or call writes (the kernel lists no data symbols in /proc/kallsyms).
        'awatch -l *(unsigned int *)($esp - 4)',
        'continue',
        'info registers eip esp',
        'delete',
        'detach',
      ]);
      // Make the guest call the function every 2 s until gdb is done: the calls after gdb's
      // continue meet the breakpoint (gdb's output comes only at its exit: a pipe is buffered).
      let done = false;
      const typing = (async () => {
        while (!done) { vm.type('uname -s\r'); await new Promise((r) => setTimeout(r, 2000)); }
      })();
      const gdb = await running;
      done = true;
      await typing;
      const out = gdb.out;
      expect(gdb.status, out).toBe(0);
      // Attached: the guest was stopped in the kernel (idle at its prompt), kernel code segment.
      const eips = [...out.matchAll(/^eip\s+0x([0-9a-f]+)/gm)].map((x) => parseInt(x[1]!, 16));
      expect(eips.length, out).toBe(6);
      expect(eips[0]!).toBeGreaterThanOrEqual(0xc0000000);
      // Two stepi from where gdb found the guest: EIP moved (at a HLT, the first may not).
      const [attached, , twoSteps] = eips.splice(0, 3);
      expect(twoSteps).not.toBe(attached);
      expect(out).toMatch(/^cs\s+0x60\s+96$/m);
      // Memory: the function's first words, as the monitor reads them too.
      const gdbWords = /^0x[0-9a-f]+(?: <[^>]*>)?:\s+(0x[0-9a-f]{8})\s+(0x[0-9a-f]{8})\s+(0x[0-9a-f]{8})\s+(0x[0-9a-f]{8})$/m.exec(out);
      expect(gdbWords, out).not.toBeNull();
      // The breakpoint: gdb reports the stop there, and EIP is the address.
      expect(out).toMatch(new RegExp(`Breakpoint 1, ${hexAddr} in`));
      expect(eips[0]).toBe(addr);
      // stepi: one instruction on, still in the kernel.
      expect(eips[1]).not.toBe(addr);
      expect(eips[1]!).toBeGreaterThanOrEqual(0xc0000000);
      expect(out).toMatch(/^\$1 = 0x37f$/m);
      // The watchpoint is the stub's (gdb says Hardware); it stopped after the push or call that
      // wrote the word: EIP moved on in the kernel and ESP is at or below the word.
      expect(out).toMatch(/Hardware access \(read\/write\) watchpoint 2: -location \*\(unsigned int \*\)\(\$esp - 4\)/);
      const esps = [...out.matchAll(/^esp\s+0x([0-9a-f]+)/gm)].map((x) => parseInt(x[1]!, 16));
      expect(esps.length, out).toBe(1);
      expect(eips[2]!).toBeGreaterThanOrEqual(0xc0000000);
      expect(out).toMatch(/Inferior 1 \(Remote target\) detached/);

      // Detached: the guest finishes uname and answers.
      await vm.waitFor('Linux', at);
      expect(await vm.shell('echo after-$((6*7))', 'A')).toBe('after-42\n');
      const mon = await vm.monitor(`x/4xw ${hexAddr}`);
      expect(mon.trim().split(/\s+/).slice(1)).toEqual(gdbWords!.slice(1));

      // The port is taken: a second VM says so in one line and exits 2.
      const second = spawnSync(BIN, ['run', '--memory', '64', '--gdb', `tcp::${port}`], { encoding: 'utf8', timeout: 120_000, input: '' });
      expect(second.status).toBe(2);
      expect(second.stderr.trim()).toBe(`webx86: --gdb: port ${port} on 127.0.0.1 is in use`);

      vm.type('\x01cquit\r');
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
    }
  }, BOOT_TIMEOUT_MS + 240_000);
});
