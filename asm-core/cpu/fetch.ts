// Instruction fetch through CS with a one-page window: while EIP stays inside the window (one
// RAM page, inside the CS limit) a byte costs a subtract, a compare and a load.

import { RAM_BASE, readPhys8 } from '../mmu/phys';
import { translate } from '../mmu/paging';
import { TLB_MMIO, fetchLo, fetchLen, fetchDelta } from '../mmu/tlb';
import { raiseFault } from './fault';
import { EXC_GP } from './state';
import { pc, csBase, csLimit, cplLive } from './live';

@inline export function fetch8(): u32 {
  const p = pc;
  if (p - fetchLo < fetchLen) {
    pc = p + 1;
    return <u32>load<u8>(p + fetchDelta);
  }
  return fetchSlow();
}

@inline export function fetch16(): u32 {
  const p = pc;
  if (p - fetchLo + 1 < fetchLen) {
    pc = p + 2;
    return <u32>load<u16>(p + fetchDelta);
  }
  const lo = fetchSlow();
  return lo | (fetch8() << 8);
}

@inline export function fetch32(): u32 {
  const p = pc;
  if (p - fetchLo + 3 < fetchLen) {
    pc = p + 4;
    return load<u32>(p + fetchDelta);
  }
  const lo = fetch16();
  return lo | (fetch16() << 16);
}

function fetchSlow(): u32 {
  const off = pc;
  if (off > csLimit) raiseFault(EXC_GP, 0);
  const lin = csBase + off;
  const e = translate(lin, false, cplLive == 3);
  const phys = (e & 0xfffff000) | (lin & 0xfff);
  pc = off + 1;
  if (e & TLB_MMIO) { fetchLen = 0; return readPhys8(phys); }
  // The window: from this page's first byte (or EIP 0) to the page end or the CS limit.
  const inPage = lin & 0xfff;
  const back = inPage < off ? inPage : off;
  const lo = off - back;
  let end: u64 = <u64>off + <u64>(0x1000 - inPage); // exclusive
  if (end > <u64>csLimit + 1) end = <u64>csLimit + 1;
  fetchLo = lo;
  fetchLen = <u32>(end - <u64>lo);
  fetchDelta = RAM_BASE + phys - off;
  return <u32>load<u8>(RAM_BASE + phys);
}
