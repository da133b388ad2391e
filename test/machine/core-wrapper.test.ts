// The Core wrapper against a real Wasm module compiled by asc: a miniature "core" that keeps
// the contract of asm-core/README.md (exports, imports) with its
// state at offsets deliberately different from asm-core/cpu/state.ts, so a wrapper that
// hard-coded offsets would fail here.
import { beforeAll, describe, expect, it } from 'vitest';
import asc from 'assemblyscript/asc';
import { loadCore, type CoreHost } from '../../src/cpu/core.js';
import { readCoreWasm } from '../../src/cpu/core-file.js';

// Its "instructions", one byte each at guest RAM address EIP:
//   0x01 n  OUT 0x80, n          0x03    EAX += IN 0x60
//   0x04    EBX = TSC (low 32 bits) + intAck()
//   0xF4    HLT                  other   STOP_RESET
// (Faults are the core's own business: it throws and catches them inside, test/cpu/faults.test.ts.)
const MINI_CORE = `
@external("env", "ioRead") declare function ioRead(port: u32, size: u32): u32;
@external("env", "ioWrite") declare function ioWrite(port: u32, size: u32, value: u32): void;
@external("env", "intAck") declare function intAck(): u32;
@external("env", "readTsc") declare function readTsc(): f64;

export const STATE: u32 = 0x2000;
export const RAM_BASE: u32 = 0x10000;
export const OFF_REGS: u32 = 0x100;
export const OFF_EIP: u32 = 0x20;
export const OFF_EFLAGS: u32 = 0x28;
export const OFF_SEGS: u32 = 0x200;
export const SEG_SELECTOR: u32 = 0;
export const SEG_BASE: u32 = 4;
export const SEG_LIMIT: u32 = 8;
export const SEG_ACCESS: u32 = 12;
export const OFF_CR0: u32 = 0x300;
export const OFF_CR2: u32 = 0x304;
export const OFF_CR3: u32 = 0x308;
export const OFF_CR4: u32 = 0x30c;
export const OFF_CPL: u32 = 0x310;
export const OFF_GDTR_BASE: u32 = 0x320;
export const OFF_GDTR_LIMIT: u32 = 0x324;
export const OFF_IDTR_BASE: u32 = 0x328;
export const OFF_IDTR_LIMIT: u32 = 0x32c;
export const OFF_HALTED: u32 = 0x330;
export const OFF_INTR: u32 = 0x334;
export const OFF_NMI_PENDING: u32 = 0x338;
export const OFF_A20: u32 = 0x33c;
export const OFF_RAM_SIZE: u32 = 0x340;
export const OFF_INSTR_COUNT: u32 = 0x348;
export const STOP_BUDGET: u32 = 0;
export const STOP_HLT: u32 = 1;
export const STOP_RESET: u32 = 2;
export const STOP_REQUEST: u32 = 3;

let remaining: u32 = 0;
let stopRequested: bool = false;

function eip(): u32 { return load<u32>(STATE + OFF_EIP); }
function setEip(v: u32): void { store<u32>(STATE + OFF_EIP, v); }
function reg(r: u32): u32 { return load<u32>(STATE + OFF_REGS + r * 8); }
function setReg(r: u32, v: u32): void { store<u32>(STATE + OFF_REGS + r * 8, v); }
function retire(): void {
  store<f64>(STATE + OFF_INSTR_COUNT, load<f64>(STATE + OFF_INSTR_COUNT) + 1.0);
  remaining--;
}

function loop(): u32 {
  while (remaining > 0) {
    if (stopRequested) { stopRequested = false; return STOP_REQUEST; }
    const pc = eip();
    const op = load<u8>(RAM_BASE + pc);
    if (op == 0x01) { ioWrite(0x80, 1, load<u8>(RAM_BASE + pc + 1)); setEip(pc + 2); }
    else if (op == 0x03) { setReg(0, reg(0) + ioRead(0x60, 1)); setEip(pc + 1); }
    else if (op == 0x04) { setReg(3, <u32>(<u64>readTsc()) + intAck()); setEip(pc + 1); }
    else if (op == 0xf4) { setEip(pc + 1); store<u32>(STATE + OFF_HALTED, 1); retire(); return STOP_HLT; }
    else return STOP_RESET;
    retire();
  }
  return STOP_BUDGET;
}

export function init(ramBytes: u32): void {
  const need = (RAM_BASE + ramBytes + 0xffff) >> 16;
  const have = <u32>memory.size();
  if (need > have) memory.grow(need - have);
  store<u32>(STATE + OFF_RAM_SIZE, ramBytes);
  store<u32>(STATE + OFF_A20, 1);
}
export function reset(): void { setEip(0); }
export function run(budget: u32): u32 { remaining = budget; store<u32>(STATE + OFF_HALTED, 0); return loop(); }
export function requestStop(): void { stopRequested = true; }
export function setIntr(level: u32): void { store<u32>(STATE + OFF_INTR, level); }
export function raiseNmi(): void { store<u32>(STATE + OFF_NMI_PENDING, 1); }
export function getEflags(): u32 { return load<u32>(STATE + OFF_EFLAGS) | 2; }
export function setEflags(v: u32): void { store<u32>(STATE + OFF_EFLAGS, v); }
export function refreshState(): void {}
export function flushTlb(): void {}
export function setA20(on: u32): void { store<u32>(STATE + OFF_A20, on); }
`;

let wasm: Uint8Array;

beforeAll(async () => {
  const { binary, stderr } = await asc.compileString(MINI_CORE, {
    runtime: 'stub', optimizeLevel: 1, initialMemory: 1,
  });
  if (!binary) throw new Error(`mini core did not compile: ${stderr.toString()}`);
  wasm = binary;
}, 60_000);

function recordingHost(overrides: Partial<CoreHost> = {}) {
  const out: number[] = [];
  const host: CoreHost = {
    ioRead: (port) => (port === 0x60 ? 5 : 0xff),
    ioWrite: (port, _size, value) => { if (port === 0x80) out.push(value); },
    mmioRead: () => 0xffffffff,
    mmioWrite: () => {},
    intAck: () => 0x20,
    readTsc: () => 1000,
    ferr: () => {},
    ...overrides,
  };
  return { host, out };
}

describe('Core wrapper', () => {
  it('runs and reports the stop reason', async () => {
    const { host, out } = recordingHost();
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    core.reset();
    // OUT 1; OUT 2; IN; OUT 3; HLT
    core.ram.set([0x01, 1, 0x01, 2, 0x03, 0x01, 3, 0xf4], 0);
    expect(core.run(1000)).toBe('hlt');
    expect(out).toEqual([1, 2, 3]);
    expect(core.reg('eax')).toBe(5);
    expect(core.eip).toBe(8);
    expect(core.instructions).toBe(5);
    expect(core.halted).toBe(true);
  });

  it('stops at the budget and at requestStop()', async () => {
    const { host, out } = recordingHost();
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    core.ram.set([0x01, 7, 0x01, 8, 0x01, 9, 0xf4], 0);
    expect(core.run(2)).toBe('budget');
    expect(out).toEqual([7, 8]);
    core.requestStop();
    expect(core.run(10)).toBe('request');
    expect(core.run(10)).toBe('hlt');
    expect(out).toEqual([7, 8, 9]);
  });

  it('lets a host exception through instead of swallowing it', async () => {
    const { host } = recordingHost({ ioRead: () => { throw new Error('device bug'); } });
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    core.ram.set([0x03], 0);
    expect(() => core.run(10)).toThrow('device bug');
  });

  it('builds accessors from the exported offsets', async () => {
    const { host } = recordingHost();
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    core.setReg('esi', 0x7000);
    core.eip = 0x100000;
    core.cr0 = 0x11;
    core.gdtr = { base: 0x1000, limit: 0x1f };
    core.setSeg('ss', { selector: 0x18, base: 0, limit: 0xffffffff, access: 0xc093 });
    const dv = new DataView(core.memory.buffer);
    // Where the mini core keeps them: STATE 0x2000 + its own offsets.
    expect(dv.getUint32(0x2000 + 0x100 + 6 * 8, true)).toBe(0x7000);
    expect(dv.getUint32(0x2000 + 0x20, true)).toBe(0x100000);
    expect(dv.getUint32(0x2000 + 0x300, true)).toBe(0x11);
    expect(dv.getUint32(0x2000 + 0x324, true)).toBe(0x1f);
    expect(dv.getUint32(0x2000 + 0x200 + 2 * 16 + 12, true)).toBe(0xc093);
    expect(core.seg('ss')).toEqual({ selector: 0x18, base: 0, limit: 0xffffffff, access: 0xc093 });
    expect(core.getEflags()).toBe(2);
    core.setA20(false);
    expect(core.a20).toBe(false);
    core.setIntr(true);
    expect(core.intrPin).toBe(true);
  });

  it('passes TSC and interrupt-acknowledge values through', async () => {
    const { host } = recordingHost({ readTsc: () => 2 ** 32 + 77, intAck: () => 0x30 });
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    core.ram.set([0x04, 0xf4], 0);
    core.run(10);
    expect(core.reg('ebx')).toBe(77 + 0x30);
  });

  it('re-creates the RAM view after memory grows', async () => {
    const { host } = recordingHost();
    const core = await loadCore(wasm, host);
    core.init(0x10000);
    const before = core.ram;
    before[5] = 0xaa;
    core.init(0x40000); // grows the memory: the old buffer is detached
    expect(before.byteLength).toBe(0);
    expect(core.ram.length).toBe(0x40000);
    expect(core.ram[5]).toBe(0xaa);
  });

  it('refuses a module that does not keep the contract', async () => {
    const { binary } = await asc.compileString('export function run(b: u32): u32 { return 0; }', { runtime: 'stub' });
    await expect(loadCore(binary!, recordingHost().host)).rejects.toThrow(/does not export/);
  });

  it('says so when the engine lacks WebAssembly exception handling', async () => {
    const tag = Object.getOwnPropertyDescriptor(WebAssembly, 'Tag')!;
    Reflect.deleteProperty(WebAssembly, 'Tag');
    try {
      await expect(loadCore(wasm, recordingHost().host)).rejects.toThrow(/requires WebAssembly exception handling/);
    } finally {
      Object.defineProperty(WebAssembly, 'Tag', tag);
    }
  });

  it('says how to build a missing core.wasm', async () => {
    await expect(readCoreWasm('/nonexistent/build/core.wasm')).rejects.toThrow(/not found: run `npm run build:core` first/);
  });
});
