// Types of table.mjs (the opcode table), for the TypeScript tests.

/** One encoding the block decoder gives a handler (table.mjs describes the fields, instructions.mjs makes them). */
export interface Encoding {
  op: number[];
  pfx?: 0x66 | 0xf2 | 0xf3;
  digit?: number | number[];
  mod?: 'reg' | 'mem';
  plusr?: boolean;
  size?: 8 | 16 | 32;
  tested?: string;
}

export type BlockEnd = 'branch' | 'jump' | 'call' | 'indirect' | 'indirect-call' | 'return' | 'interpret';

export interface Handler {
  name: string;
  mnemonic: string;
  form: 'RR' | 'RI' | 'RM' | 'MR' | 'MI' | 'R' | 'M' | 'RC' | 'MC' | 'J' | 'Z' | 'X';
  size: 8 | 16 | 32;
  enc: Encoding[];
  reads: string[];
  writes: string[];
  flags: { read: string; written: string; partial?: boolean };
  faults: boolean;
  ends?: BlockEnd;
  jit?: boolean | string;
  keepsRegistersUnless?: number;
  lockedItself?: boolean;
}

export const ALU_OPS: string[];
export const FORMS: string[];
export const CONDITIONS: string[];
export const GROUPS: { ALU32: number; ALU8: number; JCC: number };
export const HANDLERS: Handler[];
export function writesRegisters(h: Handler): boolean;
