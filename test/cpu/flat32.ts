// A bare core for the JIT's own tests: flat 32-bit protected mode at CPL 0, no devices.

import { type Core, loadCore } from '../../src/cpu/core.js';
import { readCoreWasm } from '../../src/cpu/core-file.js';

/** A host with no devices: reads of ports and MMIO float high. */
export function noDevices() {
  return {
    ioRead: () => 0xff, ioWrite: () => {}, mmioRead: () => 0xffffffff, mmioWrite: () => {},
    intAck: () => 0, readTsc: () => 0, ferr: () => {},
  };
}

/** A core with `ramBytes` of RAM and no devices. */
export async function bareCore(ramBytes: number): Promise<Core> {
  const core = await loadCore(await readCoreWasm(), noDevices());
  core.init(ramBytes);
  return core;
}

/**
 * Enter flat 32-bit protected mode at CPL 0 (CS 0x08, the data segments 0x10, all base 0 and
 * limit 4 GiB), paged through the page directory at `cr3` if given, with every general register
 * 0 but those in `regs`, at `eip`.
 */
export function enterFlat32(core: Core, eip: number, regs: Partial<Record<'eax' | 'ebx' | 'ecx' | 'edx' | 'esp', number>>, cr3?: number): void {
  for (let r = 0; r < 8; r++) core.setReg(r, 0);
  for (const [name, v] of Object.entries(regs)) core.setReg(name as 'eax', v);
  core.eip = eip;
  const flat = (selector: number, access: number) => ({ selector, base: 0, limit: 0xffffffff, access });
  core.setSeg('cs', flat(0x08, 0xc09b));
  for (const s of ['ss', 'ds', 'es', 'fs', 'gs'] as const) core.setSeg(s, flat(0x10, 0xc093));
  if (cr3 !== undefined) core.setU32('OFF_CR3', cr3);
  core.cr0 = cr3 !== undefined ? 0x8000_0011 : 0x11;
  core.cpl = 0;
  core.setU32('OFF_EFLAGS', 0x2);
  core.refreshState();
}

/** Run until the guest halts; throws if it has not after a billion instructions. */
export function runToHlt(core: Core): void {
  for (let i = 0; i < 1000; i++) if (core.run(1_000_000) === 'hlt') return;
  throw new Error(`did not halt: ${core.describe()}`);
}
