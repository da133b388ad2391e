// The x87's control state as a whole (cpu/fpu.ts has the map of the files): FNINIT, the
// environment (FNSTENV/FLDENV), FNSAVE/FRSTOR, WAIT, FXSAVE/FXRSTOR and the reset values.

import {
  STATE, OFF_FPU_FOP, OFF_FPU_FIP, OFF_FPU_FCS, OFF_FPU_FDP, OFF_FPU_FDS, OFF_FPU_MXCSR, cr0,
  CR0_EM, CR0_TS, CR0_MP, CR0_NE, EXC_NM, EXC_MF, EXC_GP,
} from './state';
import { protectedMode } from './live';
import { raiseFault } from './fault';
import {
  readLin8, readLin16, readLin32, writeLin16, writeLin32, checkWriteLin,
} from '../mmu/access';
import { FSW_ES } from './float80';
import {
  FCW_INIT, FCW_RESET, TAG_EMPTY, fcw, ferrLevel, fsw, ftw, phys, physTag, regAddr, setFcw, setFerr,
  setFsw, setFtw, tagOf, updateSummary,
} from './fpu-stack';

// ---- FNINIT, environment, FNSAVE/FRSTOR ----

export function finit(): void {
  setFcw(FCW_INIT);
  setFsw(0);
  setFtw(0xffff);
  store<u16>(STATE + OFF_FPU_FOP, 0);
  store<u32>(STATE + OFF_FPU_FIP, 0);
  store<u32>(STATE + OFF_FPU_FCS, 0);
  store<u32>(STATE + OFF_FPU_FDP, 0);
  store<u32>(STATE + OFF_FPU_FDS, 0);
}

/** Tag word as FNSTENV reports it: each non-empty register classified by its contents. */
function fullTags(): u32 {
  let t: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) {
    let tag = physTag(p);
    if (tag != TAG_EMPTY) {
      const a = regAddr(p);
      tag = tagOf(load<u16>(a + 8), load<u64>(a));
    }
    t |= tag << (p << 1);
  }
  return t;
}

/** Loads a tag word: only empty / non-empty is taken, the rest comes from the contents. */
function loadTags(t: u32): void {
  let out: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) {
    let tag = (t >> (p << 1)) & 3;
    if (tag != TAG_EMPTY) {
      const a = regAddr(p);
      tag = tagOf(load<u16>(a + 8), load<u64>(a));
    }
    out |= tag << (p << 1);
  }
  setFtw(out);
}

/** Size of the environment image: 28 bytes (32-bit) or 14 (16-bit). */
@inline function envSize(o32: bool): u32 { return o32 ? 28 : 14; }

/** Faults for an image of n bytes in the order the hardware shows (CR2): its first field (w
 *  bytes), then its last byte, then the rest. */
function probeWrite(lin: u32, n: u32, w: u32): void { checkWriteLin(lin, w); checkWriteLin(lin + n - 1, 1); checkWriteLin(lin, n); }
function probeRead(lin: u32, n: u32, w: u32): void {
  for (let i: u32 = 0; i < w; i++) readLin8(lin + i);
  readLin8(lin + n - 1);
  for (let p = (lin & ~0xfff) + 0x1000; p - lin < n; p += 0x1000) readLin8(p); // every page in between
  readLin8(lin);
}

export function stenv(lin: u32, o32: bool): void {
  probeWrite(lin, envSize(o32), o32 ? 4 : 2);
  const fip = load<u32>(STATE + OFF_FPU_FIP), fcs = load<u32>(STATE + OFF_FPU_FCS);
  const fdp = load<u32>(STATE + OFF_FPU_FDP), fds = load<u32>(STATE + OFF_FPU_FDS);
  const fop = <u32>load<u16>(STATE + OFF_FPU_FOP) & 0x7ff;
  const tags = fullTags();
  if (o32) {
    writeLin32(lin, 0xffff0000 | fcw());
    writeLin32(lin + 4, 0xffff0000 | fsw());
    writeLin32(lin + 8, 0xffff0000 | tags);
    if (protectedMode) {
      writeLin32(lin + 12, fip);
      writeLin32(lin + 16, (fcs & 0xffff) | (fop << 16));
      writeLin32(lin + 20, fdp);
      writeLin32(lin + 24, 0xffff0000 | (fds & 0xffff));
    } else {
      const ip = fip + ((fcs & 0xffff) << 4), dp = fdp + ((fds & 0xffff) << 4);
      writeLin32(lin + 12, 0xffff0000 | (ip & 0xffff));
      writeLin32(lin + 16, ((ip >> 16) << 12) | fop);
      writeLin32(lin + 20, 0xffff0000 | (dp & 0xffff));
      writeLin32(lin + 24, (dp >> 16) << 12);
    }
  } else {
    writeLin16(lin, fcw());
    writeLin16(lin + 2, fsw());
    writeLin16(lin + 4, tags);
    if (protectedMode) {
      writeLin16(lin + 6, fip);
      writeLin16(lin + 8, fcs);
      writeLin16(lin + 10, fdp);
      writeLin16(lin + 12, fds);
    } else {
      const ip = fip + ((fcs & 0xffff) << 4), dp = fdp + ((fds & 0xffff) << 4);
      writeLin16(lin + 6, ip);
      writeLin16(lin + 8, (((ip >> 16) & 0xf) << 12) | fop);
      writeLin16(lin + 10, dp);
      writeLin16(lin + 12, ((dp >> 16) & 0xf) << 12);
    }
  }
}

export function ldenv(lin: u32, o32: bool): void {
  probeRead(lin, envSize(o32), o32 ? 4 : 2);
  let cw: u32, sw: u32, tw: u32, fip: u32, fcs: u32, fop: u32, fdp: u32, fds: u32;
  if (o32) {
    cw = readLin16(lin); sw = readLin16(lin + 4); tw = readLin16(lin + 8);
    if (protectedMode) {
      fip = readLin32(lin + 12); const w = readLin32(lin + 16);
      fcs = w & 0xffff; fop = (w >> 16) & 0x7ff;
      fdp = readLin32(lin + 20); fds = readLin16(lin + 24);
    } else {
      const w1 = readLin32(lin + 12), w2 = readLin32(lin + 16), w3 = readLin32(lin + 20), w4 = readLin32(lin + 24);
      fip = (w1 & 0xffff) | ((w2 >> 12) << 16); fop = w2 & 0x7ff; fcs = 0;
      fdp = (w3 & 0xffff) | ((w4 >> 12) << 16); fds = 0;
    }
  } else {
    cw = readLin16(lin); sw = readLin16(lin + 2); tw = readLin16(lin + 4);
    if (protectedMode) {
      fip = readLin16(lin + 6); fcs = readLin16(lin + 8); fdp = readLin16(lin + 10); fds = readLin16(lin + 12); fop = 0;
    } else {
      const w2 = readLin16(lin + 8);
      fip = readLin16(lin + 6) | ((w2 >> 12) << 16); fop = w2 & 0x7ff; fcs = 0;
      fdp = readLin16(lin + 10) | ((readLin16(lin + 12) >> 12) << 16); fds = 0;
    }
  }
  setFcw(cw);
  setFsw(sw);
  loadTags(tw);
  store<u32>(STATE + OFF_FPU_FIP, fip); store<u32>(STATE + OFF_FPU_FCS, fcs);
  store<u16>(STATE + OFF_FPU_FOP, <u16>fop);
  store<u32>(STATE + OFF_FPU_FDP, fdp); store<u32>(STATE + OFF_FPU_FDS, fds);
}

export function fsave(lin: u32, o32: bool): void {
  const n = envSize(o32);
  probeWrite(lin, n + 80, o32 ? 4 : 2);
  stenv(lin, o32);
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + n + i * 10;
    const sig = load<u64>(a);
    writeLin32(p, <u32>sig); writeLin32(p + 4, <u32>(sig >> 32)); writeLin16(p + 8, load<u16>(a + 8));
  }
  finit();
}

export function frstor(lin: u32, o32: bool): void {
  const n = envSize(o32);
  probeRead(lin, n + 80, o32 ? 4 : 2); // a fault leaves the FPU untouched
  ldenv(lin, o32);
  for (let i: u32 = 0; i < 8; i++) {
    const p = lin + n + i * 10;
    const lo = readLin32(p), hi = readLin32(p + 4), se = readLin16(p + 8);
    const a = regAddr(phys(i));
    store<u64>(a, (<u64>hi << 32) | <u64>lo); store<u16>(a + 8, <u16>se);
  }
  loadTags(ftw());
}

// ---- WAIT, FXSAVE/FXRSTOR, reset ----

export function fpuWait(): void {
  const c0 = cr0();
  if ((c0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) raiseFault(EXC_NM, -1);
  if ((fsw() & FSW_ES) != 0) {
    if ((c0 & CR0_NE) != 0) raiseFault(EXC_MF, -1);
    if (ferrLevel() == 0) setFerr(1);
  }
}

export function fpuFxsave(lin: u32): void {
  if ((cr0() & (CR0_EM | CR0_TS)) != 0) raiseFault(EXC_NM, -1);
  if ((lin & 15) != 0) raiseFault(EXC_GP, 0);
  checkWriteLin(lin + 511, 1); // the hardware probes the end first (CR2)
  checkWriteLin(lin, 512);
  let abridged: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if (physTag(p) != TAG_EMPTY) abridged |= 1 << p;
  writeLin16(lin, fcw());
  writeLin16(lin + 2, fsw());
  writeLin16(lin + 4, abridged);
  writeLin16(lin + 6, load<u16>(STATE + OFF_FPU_FOP) & 0x7ff);
  writeLin32(lin + 8, load<u32>(STATE + OFF_FPU_FIP));
  writeLin32(lin + 12, load<u32>(STATE + OFF_FPU_FCS) & 0xffff);
  writeLin32(lin + 16, load<u32>(STATE + OFF_FPU_FDP));
  writeLin32(lin + 20, load<u32>(STATE + OFF_FPU_FDS) & 0xffff);
  writeLin32(lin + 24, load<u32>(STATE + OFF_FPU_MXCSR));
  writeLin32(lin + 28, 0); // MXCSR_MASK: 0 means the default mask
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + 32 + (i << 4);
    const sig = load<u64>(a);
    writeLin32(p, <u32>sig); writeLin32(p + 4, <u32>(sig >> 32));
    writeLin32(p + 8, <u32>load<u16>(a + 8)); writeLin32(p + 12, 0);
  }
  for (let p: u32 = lin + 160; p < lin + 288; p += 4) writeLin32(p, 0); // XMM0..7: no SSE state
}

export function fpuFxrstor(lin: u32): void {
  if ((cr0() & (CR0_EM | CR0_TS)) != 0) raiseFault(EXC_NM, -1);
  if ((lin & 15) != 0) raiseFault(EXC_GP, 0);
  readLin8(lin + 511); // the hardware probes the end first (CR2)
  for (let p: u32 = (lin & ~0xfff) + 0x1000; p - lin < 512; p += 0x1000) readLin8(p);
  const mxcsr = readLin32(lin + 24);
  if ((mxcsr & 0xffff0000) != 0) raiseFault(EXC_GP, 0); // reserved MXCSR bits
  readLin8(lin + 159); // the whole x87 area is readable before anything changes
  setFcw(readLin16(lin));
  setFsw(readLin16(lin + 2));
  const abridged = readLin8(lin + 4);
  store<u16>(STATE + OFF_FPU_FOP, <u16>(readLin16(lin + 6) & 0x7ff));
  store<u32>(STATE + OFF_FPU_FIP, readLin32(lin + 8));
  store<u32>(STATE + OFF_FPU_FCS, readLin16(lin + 12));
  store<u32>(STATE + OFF_FPU_FDP, readLin32(lin + 16));
  store<u32>(STATE + OFF_FPU_FDS, readLin16(lin + 20));
  store<u32>(STATE + OFF_FPU_MXCSR, mxcsr);
  for (let i: u32 = 0; i < 8; i++) {
    const a = regAddr(phys(i));
    const p = lin + 32 + (i << 4);
    store<u64>(a, (<u64>readLin32(p + 4) << 32) | <u64>readLin32(p));
    store<u16>(a + 8, <u16>readLin16(p + 8));
  }
  let tags: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) if ((abridged & (1 << p)) == 0) tags |= TAG_EMPTY << (p << 1);
  loadTags(tags);
  updateSummary();
}

/** Power-on / RESET: FCW 0x0040, everything else cleared, all registers empty. */
export function fpuReset(): void {
  finit();
  setFcw(FCW_RESET);
  for (let p: u32 = 0; p < 8; p++) { store<u64>(regAddr(p), 0); store<u16>(regAddr(p) + 8, 0); }
  store<u32>(STATE + OFF_FPU_MXCSR, 0x1f80);
  if (ferrLevel() != 0) setFerr(0);
}
