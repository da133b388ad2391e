// Types of instructions.mjs (the instruction rows), for the TypeScript tests.

import type { Encoding } from './table.d.mts';

/** One row of the instruction table (instructions.mjs describes the fields). */
export interface Instruction {
  name: string;
  op: number[];
  pfx?: 0x66 | 0xf3;
  sizes: (8 | 16 | 32)[];
  modrm?: 'rm' | 'mem' | 'reg';
  digit?: number;
  plusr?: boolean;
  imm?: 'b' | 'w' | 'v' | 'rel8' | 'relv' | 'moffs' | 'enter';
  lock?: boolean;
  rep?: boolean;
  udOnReg?: boolean;
  memSize?: 8 | 16 | 32 | 64;
  tested?: string;
}

export const ALU_OPS: string[];
export const CC_NAMES: string[];
export const SHIFT_OPS: string[];
export const BIT_OPS: string[];
export const INSTRUCTIONS: Instruction[];
export function instruction(name: string): Instruction;
export function encodings(
  names: string | string[],
  opts?: { size?: 8 | 16 | 32; mod?: 'reg' | 'mem'; digits?: number[]; regs?: number[]; rep?: boolean },
): Encoding[];
