// The monitor's looks inside a running Linux guest (src/node/monitor-info.ts), checked against
// what the guest itself says or against each other: `info registers` shows paging on and the
// kernel's CPL; a kernel text page that `info tlb` maps reads the same through `x` (linear) and
// `xp` (the physical address the walk gave); `info pci` lists the vendor:device pairs the
// guest's /sys/bus/pci finds; `info pic` shows the 8259s as Linux programmed them (legacy IRQs
// at vector 0x30); `info irq` counts the serial port's interrupts as the guest prints.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { BOOT_TIMEOUT_MS } from './session.js';
import { TerminalCli } from './terminal-cli.js';

const haveImages = haveBuildOutputs('the monitor info guest test (test/guest/monitor-info.test.ts)', guestFiles());
const hex = (s: string) => parseInt(s, 16);

/** The words of `x`/`xp` output, without the addresses. */
function words(out: string): string[] {
  return out.trim().split('\n').flatMap((l) => l.replace(/^[0-9a-f]+:/, '').trim().split(/\s+/));
}

describe.skipIf(!haveImages)('Linux guest: the monitor\'s info registers, tlb, pci, pic, irq, mtree and x/xp', () => {
  const m = haveImages ? JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string } : { prompt: '' };

  it('agree with the guest and with each other', async () => {
    const vm = new TerminalCli(['run', '--memory', '96']);
    try {
      await vm.waitFor(m.prompt, 0);
      await vm.quiet();

      const regs = await vm.monitor('info registers');
      const cr0 = /CR0=([0-9a-f]{8})/.exec(regs);
      expect(cr0, regs).not.toBeNull();
      expect(hex(cr0![1]!) & 0x80000001).toBe(0x80000001 | 0); // PE and PG
      expect(regs).toMatch(/CPL=[03]/);
      expect(regs).toMatch(/^MODE=protected paging/m);
      expect(regs).toMatch(/^CS =(0060|0073) 00000000 ffffffff /m); // Linux's flat kernel or user code segment
      expect(regs).toMatch(/^GDT=\s+[0-9a-f]{8} 000000ff$/m);
      const eip = hex(/EIP=([0-9a-f]{8})/.exec(regs)![1]!);

      // The kernel page holding a kernel address, as info tlb maps it (4 KiB, or 4 MiB with P).
      const tlb = await vm.monitor('info tlb');
      const kernelText = eip >= 0xc0000000 ? eip : 0xc1000000;
      const page = tlb.trim().split('\n').map((l) => /^([0-9a-f]{8}): ([0-9a-f]{8}) (\S{9})$/.exec(l)).find((x) => {
        if (x === null) return false;
        const size = x[3]![2] === 'P' ? 0x400000 : 0x1000;
        return hex(x[1]!) <= kernelText && kernelText < hex(x[1]!) + size;
      });
      expect(page, tlb.slice(0, 2000)).toBeDefined();
      const lin = (kernelText & ~0xf) >>> 0;
      const phys = hex(page![2]!) + (lin - hex(page![1]!));
      const viaLinear = await vm.monitor(`x/4xw 0x${lin.toString(16)}`);
      const viaPhysical = await vm.monitor(`xp/4xw 0x${phys.toString(16)}`);
      expect(viaLinear).toMatch(new RegExp(`^${lin.toString(16).padStart(8, '0')}: (0x[0-9a-f]{8} ?){4}\\n$`));
      expect(words(viaLinear)).toEqual(words(viaPhysical));
      expect(words(viaLinear).every((w) => w === '0x00000000')).toBe(false);
      // info mem has the same page, in a run of kernel pages (no user bit).
      const mem = await vm.monitor('info mem');
      expect(mem.trim().split('\n').some((l) => {
        const r = /^([0-9a-f]{8})-([0-9a-f]{8}) [0-9a-f]{8} -r[w-]$/.exec(l);
        return r !== null && hex(r[1]!) <= lin && lin < hex(r[2]!);
      }), mem.slice(0, 2000)).toBe(true);
      // An address no page maps: one line.
      expect(await vm.monitor('x/4xw 0x0')).toBe('Cannot access memory: 0x00000000 is not mapped\n');

      // PCI: the vendor:device pairs the guest finds.
      const guestPci = (await vm.shell('for d in /sys/bus/pci/devices/*; do echo $(cat $d/vendor):$(cat $d/device); done', 'P'))
        .trim().split('\n').map((l) => l.replace(/0x/g, '')).sort();
      const monitorPci = [...(await vm.monitor('info pci')).matchAll(/PCI device ([0-9a-f]{4}:[0-9a-f]{4})/g)].map((x) => x[1]!).sort();
      expect(guestPci.length).toBeGreaterThanOrEqual(5);
      expect(monitorPci).toEqual(guestPci);

      // The 8259s as Linux left them: legacy IRQs from vector 0x30 (master) and 0x38 (slave).
      const pic = await vm.monitor('info pic');
      expect(pic).toMatch(/^pic0: irr=[0-9a-f]{2} imr=[0-9a-f]{2} isr=[0-9a-f]{2} hprio=\d irq_base=30 /m);
      expect(pic).toMatch(/^pic1: irr=[0-9a-f]{2} imr=[0-9a-f]{2} isr=[0-9a-f]{2} hprio=\d irq_base=38 /m);

      // info irq: the COM1 (IRQ 4) interrupts grow while the guest prints.
      const com1Count = (text: string): number => Number(/vector 0x[0-9a-f]{2}: (\d+) \([^)]*(?:IO-APIC pin 4|8259 IRQ 4)/.exec(text)?.[1] ?? 0);
      const before = com1Count(await vm.monitor('info irq'));
      expect(await vm.shell('seq 1 200 | wc -l', 'I')).toBe('200\n');
      const after = com1Count(await vm.monitor('info irq'));
      expect(after).toBeGreaterThan(before);

      const mtree = await vm.monitor('info mtree');
      expect(mtree).toMatch(/^ {2}000c0000-05ffffff \(prio 0, ram\): ram$/m);
      expect(mtree).toMatch(/^ {2}fec00000-fec00fff \(prio 0, i\/o\): ioapic$/m);
      expect(mtree).toMatch(/stdvga BAR0 \(PCI BAR\)/);

      vm.type('\x01cquit\r');
      expect(await vm.exited).toBe(0);
    } finally {
      vm.kill();
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
