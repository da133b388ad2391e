// Decoding 32-bit code into records (cpu/record.ts) for the block cache (cpu/blocks.ts). The
// handler of each encoding and whether it ends the block come from the opcode table
// (asm-core/opcodes/table.mjs, through cpu/generated/handlers.ts handlerOf and blockEnd); this
// file takes the operands apart by the encoding's shape. It takes apart the forms that make up
// nearly all of a 32-bit kernel's and user program's instructions: 8- and 32-bit ALU, MOV, LEA,
// TEST, shifts, multiply and divide, PUSH and POP, near jumps, calls and returns, string
// instructions, bit tests, BSWAP, CMPXCHG, CMPXCHG8B and XADD to memory, CLI, PUSHF, SAHF/LAHF,
// CLD/STD, and the 16-bit MOV, ALU, INC/DEC, TEST and shifts. The x87 with 66h, TZCNT/LZCNT, double
// shifts of memory, the register forms of CMPXCHG and XADD, XCHG with memory, the 8-bit shifts,
// INC/DEC, NOT/NEG and multiply/divide on a byte in memory, LOCKed forms but the read-modify-
// writes of memory that have their own records,
// RDTSC, PUSH of a segment register, and loads of ES, DS, FS and GS are left to the
// interpreter, but inside the block (handlers.ts stepInBlock). A data segment load that leaves
// ES, SS and DS not flat asks for the run loop (segments.ts), which translations require. Anything
// else (other 16-bit forms, 16-bit addresses, loads of SS and CS, far transfers, POPF, STI,
// system instructions) becomes a record that runs the full interpreter, and ends the block: such
// an instruction may change the mode, the paging, the interrupt shadow, or the code itself.

import { OFF_REGS, OFF_ZERO, REG_EAX, REG_ESP, REG_EBP, SEG_DS, SEG_SS } from './state';
import {
  REC_SIZE, REC_HANDLER, REC_LEN, REC_REG, REC_RM, REC_SCALE, REC_BASE, REC_INDEX, REC_DISP, REC_IMM,
} from './record';
import { BLOCK_MAX, decodedEnd } from './blocks';
import { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS } from './string';
import {
  H, handlerOf, lockedHandler, blockEnd, NO_HANDLER, END_NONE, MAP_ONE, MAP_TWO, MAP_ONE_66, MAP_TWO_66, MAP_TWO_F3,
} from './generated/handlers';

/** What decodeOne() found: not a form taken apart here, one that continues the block, one that ends it. */
const NOT_DECODED: u32 = 0;
const CONTINUES: u32 = 1;
const ENDS: u32 = 2;

/** State-block word of general register `r` (as REC_BASE/REC_INDEX hold it), and of the zero word. */
@inline function regWord(r: u32): u32 { return (OFF_REGS + (r << 3)) >> 2; }
const ZERO_WORD: u32 = OFF_ZERO >> 2;

// The decoder's cursor: host address of the next code byte and the end of the page.
let p: u32 = 0;
let pageEnd: u32 = 0;
/** The instruction ran past the page end: the interpreter fetches it across the boundary. */
let truncated: bool = false;

function byte(): u32 {
  if (p >= pageEnd) { truncated = true; return 0; }
  return <u32>load<u8>(p++);
}
function imm8s(): u32 { return <u32>(<i32>(<i8>byte())); }
function imm16(): u32 { const lo = byte(); return lo | (byte() << 8); }
function imm32(): u32 { const lo = imm16(); return lo | (imm16() << 16); }

// The ModRM byte just read, and the record being written.
let mod: u32 = 0, reg: u32 = 0, rm: u32 = 0;
let rec: u32 = 0;

@inline function setHandler(h: u32): void { store<u16>(rec, <u16>h, REC_HANDLER); }
@inline function setField(field: u32, v: u32): void { store<u8>(rec + field, <u8>v); }
@inline function setImm(v: u32): void { store<u32>(rec, v, REC_IMM); }
@inline function setDisp(v: u32): void { store<u32>(rec, v, REC_DISP); }

/**
 * ModRM (and SIB and displacement) with 32-bit addressing. Register form: REC_REG = reg and
 * REC_RM = r/m. Memory form: REC_REG = reg, the address parts, and REC_RM = the segment.
 */
function modrm(segOvr: i32): void {
  const b = byte();
  mod = b >> 6; reg = (b >> 3) & 7; rm = b & 7;
  setField(REC_REG, reg);
  if (mod == 3) { setField(REC_RM, rm); return; }
  let seg = SEG_DS, base = ZERO_WORD, idx = ZERO_WORD, scale: u32 = 0, disp: u32 = 0;
  if (rm == 4) {
    const sib = byte();
    scale = sib >> 6;
    const i = (sib >> 3) & 7, bs = sib & 7;
    if (bs == 5 && mod == 0) disp = imm32();
    else { base = regWord(bs); if (bs == REG_ESP || bs == REG_EBP) seg = SEG_SS; }
    if (i != 4) idx = regWord(i);
  } else if (rm == 5 && mod == 0) {
    disp = imm32();
  } else {
    base = regWord(rm);
    if (rm == REG_EBP) seg = SEG_SS;
  }
  if (mod == 1) disp += imm8s();
  else if (mod == 2) disp += imm32();
  setField(REC_RM, segOvr >= 0 ? <u32>segOvr : seg);
  setField(REC_BASE, base);
  setField(REC_INDEX, idx);
  setField(REC_SCALE, scale);
  setDisp(disp);
}

/** A memory operand at a constant offset (MOV with moffs). */
function absolute(segOvr: i32): void {
  setField(REC_RM, segOvr >= 0 ? <u32>segOvr : SEG_DS);
  setField(REC_BASE, ZERO_WORD);
  setField(REC_INDEX, ZERO_WORD);
  setDisp(imm32());
}

/** Register forms whose destination is the reg field: swap so that REC_RM is the destination. */
function regIsDestination(): void { setField(REC_RM, reg); setField(REC_REG, rm); }

/** Decode the instruction at `p` into the record at `rec`. */
function decodeOne(): u32 {
  let segOvr: i32 = -1;
  let rep: u32 = 0;
  let o16 = false;
  let lock = false;
  let op = byte();
  for (let n = 0; ; n++) {
    if (n == 14) return NOT_DECODED;
    if (op == 0x26) segOvr = 0;
    else if (op == 0x2e) segOvr = 1;
    else if (op == 0x36) segOvr = 2;
    else if (op == 0x3e) segOvr = 3;
    else if (op == 0x64) segOvr = 4;
    else if (op == 0x65) segOvr = 5;
    else if (op == 0xf2 || op == 0xf3) rep = op;
    else if (op == 0x66) o16 = true;
    else if (op == 0xf0) lock = true;
    else if (op == 0x67) return NOT_DECODED; // 16-bit addresses
    else break;
    op = byte();
  }
  const result = decodeForm(op, segOvr, rep, o16);
  // A LOCKed read-modify-write of memory (an atomic ADD or INC, CMPXCHG: the table says which)
  // keeps its own record: there is one CPU. Anything else LOCKed (XCHG, a bit test, a form LOCK
  // makes #UD) runs in the interpreter, which knows which forms may be locked, inside the block:
  // the decoder gave its length.
  if (lock && result != NOT_DECODED) {
    const h = lockedHandler(<u32>load<u16>(rec, REC_HANDLER));
    if (h == NO_HANDLER) return NOT_DECODED;
    setHandler(h);
  }
  return result;
}

/**
 * The record's handler from the opcode table (cpu/generated/handlers.ts handlerOf) for opcode
 * `op` of opcode map `map` with the ModRM just read, if any; and whether the block ends after it.
 */
function decoded(map: u32, op: u32): u32 {
  const h = handlerOf(map, op, mod, reg);
  if (h == NO_HANDLER) return NOT_DECODED;
  setHandler(h);
  return blockEnd(h) == END_NONE ? CONTINUES : ENDS;
}

// The decoders below take the operands apart by the encoding's shape; the opcode table chooses
// the handler (and so the forms it does not list, such as C6 /1 or LEA of a register, are left
// to the interpreter).

function decodeForm(op: u32, segOvr: i32, rep: u32, o16: bool): u32 {
  // REP is meaningful only on string instructions; "REP RET" and PAUSE ignore it; F3 0F BC/BD
  // are TZCNT/LZCNT (BSF/BSR where CPUID has neither), which decode0f leaves to the interpreter.
  if (rep != 0 && !((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || op == 0xc3 || op == 0x90)
    && !(rep == 0xf3 && op == 0x0f && p < pageEnd && (load<u8>(p) == 0xbc || load<u8>(p) == 0xbd))) return NOT_DECODED;
  // The x87 (and WAIT) cannot change the mode, the paging or the flow of control, so the block
  // goes on after it. With 66h (16-bit environment images) and WAIT the interpreter runs it.
  if ((op >= 0xd8 && op <= 0xdf) || op == 0x9b) {
    if (op == 0x9b || o16) { if (op != 0x9b) modrm(segOvr); return decoded(o16 ? MAP_ONE_66 : MAP_ONE, op); }
    const at = p;
    modrm(segOvr);
    setImm(op | (<u32>load<u8>(at) << 8));
    return decoded(MAP_ONE, op);
  }
  if (o16) return rep != 0 ? NOT_DECODED : decode16(op, segOvr);

  if (op < 0x40 && (op & 7) < 6) { // the ALU: Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev  AL,Ib  eAX,Iv
    const form = op & 7;
    if (form < 4) { modrm(segOvr); if (form >= 2 && mod == 3) regIsDestination(); }
    else { setField(REC_RM, REG_EAX); setImm(form == 4 ? byte() : imm32()); }
    return decoded(MAP_ONE, op);
  }
  if (op >= 0x40 && op <= 0x5f) setField(REC_RM, op & 7); // INC, DEC, PUSH, POP Zv
  else if (op >= 0x70 && op <= 0x7f) setDisp(imm8s()); // Jcc Jb
  else if (op >= 0x91 && op <= 0x97) { setField(REC_RM, op & 7); setField(REC_REG, REG_EAX); } // XCHG eAX, Zv
  else if (op >= 0xb0 && op <= 0xb7) { setField(REC_RM, op & 7); setImm(byte()); } // MOV Zb, Ib
  else if (op >= 0xb8 && op <= 0xbf) { setField(REC_RM, op & 7); setImm(imm32()); } // MOV Zv, Iv
  else {
    switch (op) {
      case 0x0f: return decode0f(segOvr, rep);
      // ModRM
      case 0x84: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8c: case 0x8d: case 0x8e:
      case 0xd0: case 0xd2: case 0xd3: case 0xfe: case 0xff:
        modrm(segOvr); break;
      case 0x8a: case 0x8b: modrm(segOvr); if (mod == 3) regIsDestination(); break; // MOV Gb,Eb  Gv,Ev
      // ModRM and an immediate
      case 0x80: case 0x82: case 0xc0: case 0xc1: case 0xc6: modrm(segOvr); setImm(byte()); break;
      case 0x6b: case 0x83: modrm(segOvr); setImm(imm8s()); break;
      case 0x69: case 0x81: case 0xc7: modrm(segOvr); setImm(imm32()); break;
      case 0xd1: modrm(segOvr); setImm(1); break;
      case 0xf6: modrm(segOvr); if (reg <= 1) setImm(byte()); break; // TEST Eb, Ib (the rest: NOT...IDIV Eb)
      case 0xf7: modrm(segOvr); if (reg <= 1) setImm(imm32()); break; // TEST Ev, Iv (the rest: NOT...IDIV Ev)
      // No operand in the record, or an immediate, a relative target, an offset
      case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x07: case 0x1f: // PUSH of a segment register, POP ES, DS
      case 0x90: case 0x98: case 0x99: case 0xc3: case 0xc9:
      case 0x9c: case 0x9e: case 0x9f: case 0xfa: case 0xfc: case 0xfd: // PUSHF, SAHF, LAHF, CLI, CLD, STD
        break;
      case 0x68: setImm(imm32()); break;
      case 0x6a: setImm(imm8s()); break;
      case 0xc2: setImm(imm16()); break;
      case 0xe8: case 0xe9: setDisp(imm32()); break;
      case 0xeb: setDisp(imm8s()); break;
      case 0xa0: case 0xa1: case 0xa2: case 0xa3: absolute(segOvr); setField(REC_REG, REG_EAX); break;
      case 0xa8: setField(REC_RM, REG_EAX); setImm(byte()); break;
      case 0xa9: setField(REC_RM, REG_EAX); setImm(imm32()); break;
      case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf: {
        const kinds = op >> 1;
        const kind = kinds == 0x52 ? STR_MOVS : kinds == 0x53 ? STR_CMPS : kinds == 0x55 ? STR_STOS : kinds == 0x56 ? STR_LODS : STR_SCAS;
        setField(REC_REG, kind);
        setField(REC_SCALE, (op & 1) ? 32 : 8);
        setField(REC_RM, segOvr >= 0 ? <u32>segOvr : 0xff);
        setImm(rep);
        break;
      }
      default: return NOT_DECODED;
    }
  }
  return decoded(MAP_ONE, op);
}

/** With a 66h prefix: MOV, the ALU, INC/DEC, TEST and shifts on words, and the word NOPs. */
function decode16(op: u32, segOvr: i32): u32 {
  if (op < 0x40 && (op & 7) < 6 && (op & 1) != 0) { // the ALU (the operation in the record): Ew,Gw  Gw,Ew  AX,Iw
    const aop = op >> 3;
    const form = op & 7;
    if (form < 4) { modrm(segOvr); setImm(aop); if (form == 3 && mod == 3) regIsDestination(); }
    else { setField(REC_RM, REG_EAX); setField(REC_REG, aop); setImm(imm16()); }
    return decoded(MAP_ONE_66, op);
  }
  if (op >= 0xb8 && op <= 0xbf) { setField(REC_RM, op & 7); setImm(imm16()); return decoded(MAP_ONE_66, op); }
  if (op >= 0x40 && op <= 0x4f) { setField(REC_RM, op & 7); return decoded(MAP_ONE_66, op); } // INC, DEC Zw
  switch (op) {
    case 0x85: case 0x89: case 0xd3: case 0xff: modrm(segOvr); break; // FF: INC, DEC Ew (the table has no other)
    case 0x8b: modrm(segOvr); if (mod == 3) regIsDestination(); break;
    case 0x81: case 0xc7: modrm(segOvr); setImm(imm16()); break;
    case 0x83: modrm(segOvr); setImm(imm8s() & 0xffff); break;
    case 0xc1: modrm(segOvr); setImm(byte()); break;
    case 0xd1: modrm(segOvr); setImm(1); break;
    case 0xf7: modrm(segOvr); if (reg <= 1) setImm(imm16()); break;
    case 0xa1: case 0xa3: absolute(segOvr); setField(REC_REG, REG_EAX); break;
    case 0xa9: setField(REC_RM, REG_EAX); setImm(imm16()); break;
    case 0x90: break; // XCHG AX, AX
    case 0x0f: { // NOP Ew (padding)
      if (byte() != 0x1f) return NOT_DECODED;
      modrm(segOvr);
      return decoded(MAP_TWO_66, 0x1f);
    }
    default: return NOT_DECODED;
  }
  return decoded(MAP_ONE_66, op);
}

function decode0f(segOvr: i32, rep: u32): u32 {
  const op = byte();
  if (op >= 0x80 && op <= 0x8f) setDisp(imm32()); // Jcc Jz
  else if ((op >= 0x90 && op <= 0x9f) || (op >= 0x40 && op <= 0x4f)) { modrm(segOvr); setImm(op & 15); } // SETcc, CMOVcc
  else if (op >= 0xc8 && op <= 0xcf) setField(REC_RM, op & 7); // BSWAP
  else {
    switch (op) {
      // NOP Ev, IMUL Gv,Ev, MOVZX, MOVSX, CMPXCHG, XADD, CMPXCHG8B
      case 0x1f: case 0xaf: case 0xb6: case 0xb7: case 0xbe: case 0xbf: case 0xb0: case 0xb1: case 0xc0: case 0xc1: case 0xc7:
        modrm(segOvr); break;
      case 0x31: case 0xa0: case 0xa1: case 0xa8: case 0xa9: break; // RDTSC, PUSH and POP FS and GS
      case 0xa3: case 0xab: case 0xb3: case 0xbb: // BT, BTS, BTR, BTC Ev, Gv (the kind in the record)
        modrm(segOvr);
        setImm(((op >> 3) & 3) << 8);
        break;
      case 0xbc: case 0xbd: // BSF, BSR; with F3, TZCNT and LZCNT (or BSF and BSR, as CPUID has them)
        modrm(segOvr);
        if (rep == 0) setImm(op == 0xbd ? 1 : 0);
        break;
      case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD, SHRD Ev, Gv, imm8 or CL
        modrm(segOvr);
        const count = (op & 1) != 0 ? 0x200 : byte();
        if (mod == 3) setImm(count | (op < 0xa8 ? 0x100 : 0));
        break;
      }
      case 0xba: modrm(segOvr); setImm(((reg - 4) << 8) | (byte() & 31)); break; // BT/BTS/BTR/BTC Ev, imm8 (/4../7)
      default: return NOT_DECODED;
    }
  }
  return decoded(rep == 0xf3 ? MAP_TWO_F3 : MAP_TWO, op);
}

/**
 * Decode the block whose first byte is at host address `code`, up to `end` (the page end), into
 * records from `first`. Sets blocks.ts decodedEnd past the last record and returns the number
 * of code bytes the decoded records cover.
 */
export function decodeBlock(code: u32, end: u32, first: u32): u32 {
  p = code; pageEnd = end;
  rec = first;
  for (let n: u32 = 0; n < BLOCK_MAX; n++) {
    const start = p;
    memory.fill(rec, 0, REC_SIZE);
    truncated = false;
    const result = decodeOne();
    if (result == NOT_DECODED || truncated) {
      // The interpreter decodes this one itself, every time it runs.
      memory.fill(rec, 0, REC_SIZE);
      setHandler(H.interpret);
      p = start;
      rec += REC_SIZE;
      break;
    }
    store<u8>(rec, <u8>(p - start), REC_LEN);
    rec += REC_SIZE;
    if (result == ENDS || p >= pageEnd) break;
  }
  decodedEnd = rec;
  return p - code;
}
