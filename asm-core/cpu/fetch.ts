// Instruction fetch through CS with a one-page cache: while EIP stays in the cached linear page
// (and inside the CS limit) a byte costs one compare and one load.

import { RAM_BASE } from '../mmu/phys';
import { readPhys8 } from '../mmu/phys';
import { translate } from '../mmu/paging';
import { TLB_MMIO, fetchPage, fetchHost } from '../mmu/tlb';
import { raiseFault } from './fault';
import { EXC_GP } from './state';
import { pc, csBase, csLimit, cplLive } from './live';


export function invalidateFetch(): void { fetchPage = 1; }

@inline export function fetch8(): u32 {
  const off = pc;
  const lin = csBase + off;
  if ((lin & 0xfffff000) == fetchPage && off <= csLimit) {
    pc = off + 1;
    return <u32>load<u8>(fetchHost + (lin & 0xfff));
  }
  return fetchSlow();
}

function fetchSlow(): u32 {
  const off = pc;
  if (off > csLimit) raiseFault(EXC_GP, 0);
  const lin = csBase + off;
  const e = translate(lin, false, cplLive == 3);
  const phys = (e & 0xfffff000) | (lin & 0xfff);
  pc = off + 1;
  if (e & TLB_MMIO) { fetchPage = 1; return readPhys8(phys); }
  fetchPage = lin & 0xfffff000;
  fetchHost = RAM_BASE + (e & 0xfffff000);
  return <u32>load<u8>(RAM_BASE + phys);
}

@inline export function fetch16(): u32 { const lo = fetch8(); return lo | (fetch8() << 8); }
@inline export function fetch32(): u32 { const lo = fetch16(); return lo | (fetch16() << 16); }
