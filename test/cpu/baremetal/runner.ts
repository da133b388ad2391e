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
  mmioRead(): number { return 0xffff_ffff; }
  mmioWrite(): void {}
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

/** The core's three ways of running code; every program runs in each and must end the same. */
export const EXECUTION_PATHS = [
  { name: 'translated (JIT threshold 1)', blocks: true, jit: 1 },
  { name: 'block cache', blocks: true, jit: 0 },
  { name: 'step by step', blocks: false, jit: 0 },
] as const;
type ExecutionPath = (typeof EXECUTION_PATHS)[number];

/** Result slots compared between the paths: RAM from the UNEXPECTED word to slot 127. */
const COMPARED = { from: UNEXPECTED, to: RES_BASE + 128 * 4 };

/**
 * Run a program until it finishes (DONE_MAGIC), resets, or the budget ends, once per execution
 * path: JIT-translated from the first run of each block, through the decoded-block cache, and
 * step by step. The three must leave the same result slots after the same number of
 * instructions, with the same stops; the JIT path's result is returned. `onHalt` is called when
 * the CPU halts before finishing (to wake it with an interrupt); return false to stop.
 */
export async function runProgram(
  name: string,
  opts: { budget?: number; onHalt?: (core: Core, host: BareHost, n: number) => boolean } = {},
): Promise<BareResult> {
  const image = assemble(name);
  const runs: BareResult[] = [];
  for (const path of EXECUTION_PATHS) runs.push(await runOnce(image, opts, path));
  const [first] = runs;
  const fingerprint = (r: BareResult) => ({
    instructions: r.core.instructions,
    stops: r.stops.join(','),
    slots: Array.from(r.core.ram.subarray(COMPARED.from, COMPARED.to)).join(','),
  });
  const want = fingerprint(first!);
  for (const [i, r] of runs.entries()) {
    const got = fingerprint(r);
    for (const k of ['instructions', 'stops', 'slots'] as const) {
      if (got[k] !== want[k]) {
        const detail = k === 'slots' ? firstSlotDifference(first!, r) : `${want[k]} vs ${got[k]}`;
        throw new Error(`${name}: ${EXECUTION_PATHS[0].name} and ${EXECUTION_PATHS[i]!.name} differ in ${k}: ${detail}`);
      }
    }
  }
  return first!;
}

function firstSlotDifference(a: BareResult, b: BareResult): string {
  for (let at = COMPARED.from; at < COMPARED.to; at += 4) {
    const x = new DataView(a.core.ram.buffer, a.core.ram.byteOffset).getUint32(at, true);
    const y = new DataView(b.core.ram.buffer, b.core.ram.byteOffset).getUint32(at, true);
    if (x !== y) return `at ${at.toString(16)} (slot ${(at - RES_BASE) / 4}): 0x${x.toString(16)} vs 0x${y.toString(16)}`;
  }
  return 'none';
}

async function runOnce(
  image: Uint8Array,
  opts: { budget?: number; onHalt?: (core: Core, host: BareHost, n: number) => boolean },
  path: ExecutionPath,
): Promise<BareResult> {
  const host = new BareHost();
  const core = await loadCore(await readCoreWasm(), host);
  host.core = core;
  core.init(RAM_BYTES);
  core.setBlockCache(path.blocks);
  core.setJitThreshold(path.jit);
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
  while (left > 0) {
    const before = core.instructions;
    const stop = core.run(Math.min(left, 100_000));
    left -= Math.max(1, core.instructions - before);
    if (stop !== 'budget') stops.push(stop);
    if (slot(0) === DONE_MAGIC || stop === 'reset') break;
    if (stop === 'hlt') {
      if (dv().getUint32(UNEXPECTED, true) !== 0) break;
      if (!opts.onHalt || !opts.onHalt(core, host, halts++)) break;
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
