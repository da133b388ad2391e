// Assembles and runs the bare-metal programs of this folder in the core (see common.inc for the
// program contract: loaded at physical 0x8000, started in real mode at 0000:8000, results in
// dword slots at RES_BASE, DONE_MAGIC in slot 0 when finished).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Core, type CoreHost, type StopReason, loadCore } from '../../../src/cpu/core.js';
import { readCoreWasm } from '../../../src/cpu/core-file.js';
import { expect } from 'vitest';
import type { IoSize } from '../../../src/machine/io.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const LOAD_AT = 0x8000;
export const RES_BASE = 0x600;
export const DONE_MAGIC = 0x0d0e0d0e;
export const UNEXPECTED = 0x528;
export const RAM_BYTES = 8 << 20;

// Host ports (common.inc).
const PORT_CMD = 0xe0;
const PORT_VECTOR = 0xe1;
const CMD_A20_OFF = 1, CMD_A20_ON = 2, CMD_INTR = 3, CMD_NMI = 4;

/** Assemble `name`.asm from this folder into a flat binary (nasm -f bin) in a temp dir. */
export function assemble(name: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'webx86-bm-'));
  try {
    const out = join(dir, `${name}.bin`);
    execFileSync('nasm', ['-f', 'bin', '-I', `${HERE}/`, '-o', out, join(HERE, `${name}.asm`)], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A host with the test ports: records OUTs, drives A20/INTR/NMI on command. */
export class BareHost implements CoreHost {
  core: Core | null = null;
  outs: { port: number; value: number }[] = [];
  vector = 0;
  intAcks = 0;
  ioRead(): number { return 0xffff_ffff; }
  ioWrite(port: number, _size: IoSize, value: number): void {
    this.outs.push({ port, value });
    const core = this.core;
    if (!core) return;
    if (port === PORT_VECTOR) this.vector = value & 0xff;
    if (port !== PORT_CMD) return;
    switch (value & 0xff) {
      case CMD_A20_OFF: core.setA20(false); break;
      case CMD_A20_ON: core.setA20(true); break;
      case CMD_INTR: core.setIntr(true); break;
      case CMD_NMI: core.raiseNmi(); break;
    }
  }
  /** MMIO writes the guest made, in order. */
  mmioWrites: { addr: number; size: IoSize; value: number }[] = [];
  /** An MMIO read answers with its address plus this (so the test sees the read reached the host). */
  mmioReadBias = 0xa5000000;
  mmioRead(addr: number): number { return (addr + this.mmioReadBias) >>> 0; }
  mmioWrite(addr: number, size: IoSize, value: number): void { this.mmioWrites.push({ addr, size, value }); }
  /** Like an 8259 in edge mode: the acknowledge takes the request away. */
  intAck(): number {
    this.intAcks++;
    this.core?.setIntr(false);
    return this.vector;
  }
  readTsc(): number { return this.core ? this.core.instructions * 3 : 0; }
  ferr(): void {}
}

/** Result slot `n` as the program left it. */
export function resultSlot(core: Core, n: number): number {
  return new DataView(core.ram.buffer, core.ram.byteOffset).getUint32(RES_BASE + n * 4, true);
}

export interface BareResult {
  core: Core;
  host: BareHost;
  stops: StopReason[];
  slot(n: number): number;
  done: boolean;
  unexpected: number;
}

/**
 * The core's three ways of running code, and two that move the CPU to a second core and back
 * (saveState, a copy of RAM, loadState), as a snapshot restore or a migration does: after every
 * instruction, and after translated runs of random length. Every program runs in each and must
 * end the same.
 */
export const EXECUTION_PATHS = [
  { name: 'translated (JIT threshold 1)', blocks: true, jit: 1, move: 'no' },
  { name: 'block cache', blocks: true, jit: 0, move: 'no' },
  { name: 'step by step', blocks: false, jit: 0, move: 'no' },
  { name: 'block cache, moved to another core after every instruction', blocks: true, jit: 0, move: 'every instruction' },
  { name: 'translated, moved to another core after random runs', blocks: true, jit: 1, move: 'random runs' },
] as const;
type ExecutionPath = (typeof EXECUTION_PATHS)[number];

/** Result slots compared between the paths: RAM from the UNEXPECTED word to slot 127. */
const COMPARED = { from: UNEXPECTED, to: RES_BASE + 128 * 4 };

export interface RunOptions {
  budget?: number;
  onHalt?: (core: Core, host: BareHost, n: number) => boolean;
  staleTlbSlots?: number[];
  /** The machine around the CPU (its memory map, ROM images): applied to every core a path uses. */
  machine?: (core: Core) => void;
}

/**
 * Run a program until it finishes (DONE_MAGIC), resets, or the budget ends, once per execution
 * path (EXECUTION_PATHS). All must leave the same result slots after the same number of
 * instructions, with the same stops; the JIT path's result is returned. `onHalt` is called when
 * the CPU halts before finishing (to wake it with an interrupt); return false to stop.
 * `staleTlbSlots`: slots that read a translation the program changed without invalidating it,
 * which the SDM lets the TLB keep or drop (vol. 3 4.10.4.3); a path that moves the CPU starts
 * each core with an empty TLB, so only those paths may differ there.
 */
export async function runProgram(
  name: string,
  opts: RunOptions = {},
): Promise<BareResult> {
  const image = assemble(name);
  const runs: BareResult[] = [];
  for (const path of EXECUTION_PATHS) runs.push(await runOnce(image, opts, path));
  const [first] = runs;
  const fingerprint = (r: BareResult, moved: boolean) => {
    const slots = Array.from(r.core.ram.subarray(COMPARED.from, COMPARED.to));
    if (moved) for (const n of opts.staleTlbSlots ?? []) slots.fill(0, RES_BASE + n * 4 - COMPARED.from, RES_BASE + n * 4 + 4 - COMPARED.from);
    return { instructions: r.core.instructions, stops: r.stops.join(','), slots: slots.join(',') };
  };
  for (const [i, r] of runs.entries()) {
    const moved = EXECUTION_PATHS[i]!.move !== 'no';
    const want = fingerprint(first!, moved);
    const got = fingerprint(r, moved);
    for (const k of ['instructions', 'stops', 'slots'] as const) {
      if (got[k] !== want[k]) {
        const detail = k === 'slots' ? firstSlotDifference(first!, r, moved ? opts.staleTlbSlots : []) : `${want[k]} vs ${got[k]}`;
        throw new Error(`${name}: ${EXECUTION_PATHS[0].name} and ${EXECUTION_PATHS[i]!.name} differ in ${k}: ${detail}`);
      }
    }
  }
  return first!;
}

function firstSlotDifference(a: BareResult, b: BareResult, skip: number[] = []): string {
  for (let at = COMPARED.from; at < COMPARED.to; at += 4) {
    if (skip.includes((at - RES_BASE) / 4)) continue;
    const x = new DataView(a.core.ram.buffer, a.core.ram.byteOffset).getUint32(at, true);
    const y = new DataView(b.core.ram.buffer, b.core.ram.byteOffset).getUint32(at, true);
    if (x !== y) return `at ${at.toString(16)} (slot ${(at - RES_BASE) / 4}): 0x${x.toString(16)} vs 0x${y.toString(16)}`;
  }
  return 'none';
}

/**
 * A CPU that differs from `cpu` in every field: each 32-bit word with its lowest bit flipped
 * (the RAM size kept, so that the core takes it). Loaded just before `cpu`, it leaves a wrong
 * value in whatever the core takes from the state block but not all of.
 */
function otherCpu(core: Core, cpu: Uint8Array): Uint8Array {
  const other = cpu.slice();
  for (let i = 0; i < other.length; i += 4) other[i]! ^= 1;
  const at = core.constant('OFF_RAM_SIZE');
  new DataView(other.buffer).setUint32(at, new DataView(cpu.buffer, cpu.byteOffset).getUint32(at, true), true);
  return other;
}

/** Longest run between two moves on the moved path; short runs are the likelier (see runOnce). */
const MOVE_MAX = 1000;

async function runOnce(image: Uint8Array, opts: RunOptions, path: ExecutionPath): Promise<BareResult> {
  const host = new BareHost();
  const start = async () => {
    const c = await loadCore(await readCoreWasm(), host);
    c.init(RAM_BYTES);
    c.setBlockCache(path.blocks);
    c.setJitThreshold(path.jit);
    opts.machine?.(c);
    return c;
  };
  let core = await start();
  // The second core of a moving path: the CPU goes back and forth between the two.
  let spare = path.move !== 'no' ? await start() : null;
  host.core = core;
  core.ram.set(image, LOAD_AT);
  const real = (sel: number) => ({ selector: sel, base: sel << 4, limit: 0xffff, access: 0x93 });
  for (const s of ['es', 'ss', 'ds', 'fs', 'gs'] as const) core.setSeg(s, real(0));
  core.setSeg('cs', { selector: 0, base: 0, limit: 0xffff, access: 0x9b });
  core.eip = LOAD_AT;
  core.setReg('esp', 0x7000);
  core.setU32('OFF_EFLAGS', 2);
  core.refreshState();
  const dv = () => new DataView(core.ram.buffer, core.ram.byteOffset, core.ram.byteLength);
  const slot = (n: number) => resultSlot(core, n);
  const stops: StopReason[] = [];
  let left = opts.budget ?? 2_000_000;
  let halts = 0;
  let seed = 0x9e3779b9; // xorshift32: the same run lengths every time
  const random = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 2 ** 32; };
  while (left > 0) {
    const before = core.instructions;
    // Cubed, so that many runs are a few instructions long.
    const chunk = path.move === 'every instruction' ? 1 : path.move === 'random runs' ? 1 + Math.floor(random() ** 3 * MOVE_MAX) : 100_000;
    const stop = core.run(Math.min(left, chunk));
    left -= Math.max(1, core.instructions - before);
    if (stop !== 'budget') stops.push(stop);
    // A program ends with HLT (or a reset) after it writes DONE_MAGIC; a budget stop in between
    // (short runs) is not the end.
    if ((slot(0) === DONE_MAGIC && stop !== 'budget') || stop === 'reset') break;
    if (stop === 'hlt') {
      if (dv().getUint32(UNEXPECTED, true) !== 0) break;
      if (!opts.onHalt || !opts.onHalt(core, host, halts++)) break;
    }
    if (spare) {
      const cpu = core.saveState();
      // By words: V8 copies shared memory (the core's, asm-core/build.mjs) faster that way.
      const words = (r: Uint8Array) => new Uint32Array(r.buffer, r.byteOffset, r.length >> 2);
      words(spare.ram).set(words(core.ram));
      spare.loadState(otherCpu(core, cpu)); // what the load must overwrite
      spare.loadState(cpu);
      [core, spare] = [spare, core];
      host.core = core;
    }
  }
  return { core, host, stops, slot, done: slot(0) === DONE_MAGIC, unexpected: dv().getUint32(UNEXPECTED, true) };
}

/** One expected value: result slot, value, the SDM rule it comes from, and an optional mask of
 *  the bits the rule defines (for results with architecturally undefined bits). */
export type Expect = [slot: number, value: number, rule: string, mask?: number];

/** Compare slots with expectations; returns readable mismatch lines (empty when all match). */
export function mismatches(r: BareResult, expects: readonly Expect[]): string[] {
  const h = (v: number) => `0x${(v >>> 0).toString(16)}`;
  const out: string[] = [];
  for (const [n, want, rule, mask = 0xffff_ffff] of expects) {
    const got = (r.slot(n) & mask) >>> 0;
    if (got !== (want & mask) >>> 0) out.push(`slot ${n}: got ${h(got)}, want ${h(want)} (${rule})`);
  }
  return out;
}

/** Expect the slots to match and the program to have finished without an unexpected exception. */
export function check(r: BareResult, expects: readonly Expect[]): void {
  const problems = mismatches(r, expects);
  if (r.unexpected) {
    const d = new DataView(r.core.ram.buffer, r.core.ram.byteOffset + 0x500, 0x20);
    const h = (o: number) => d.getUint32(o, true).toString(16);
    problems.unshift(`unexpected exception ${r.unexpected & 0xff}: error ${h(4)} at ${h(12)}:${h(8)} eflags ${h(16)} cr2 ${h(24)}`);
  }
  if (!r.done) problems.unshift(`program did not finish (stops: ${r.stops.join(',')}): ${r.core.describe()}`);
  expect(problems).toEqual([]);
}
