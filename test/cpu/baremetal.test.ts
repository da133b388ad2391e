// Bare-metal system tests: the nasm programs in test/cpu/baremetal/ run in the core from real
// mode and store results in RAM slots; each expected value below carries the SDM rule it comes
// from (Intel SDM vol. 3 unless the chapter says vol. 2). Run: npx vitest run test/cpu/baremetal.test.ts
import { describe, expect, it } from 'vitest';
import { type BareResult, type Expect, mismatches, runProgram } from './baremetal/runner.js';

function check(r: BareResult, expects: readonly Expect[]): void {
  const problems = mismatches(r, expects);
  if (r.unexpected) {
    const d = new DataView(r.core.ram.buffer, r.core.ram.byteOffset + 0x500, 0x20);
    const h = (o: number) => d.getUint32(o, true).toString(16);
    problems.unshift(`unexpected exception ${r.unexpected & 0xff}: error ${h(4)} at ${h(12)}:${h(8)} eflags ${h(16)} cr2 ${h(24)}`);
  }
  if (!r.done) problems.unshift(`program did not finish (stops: ${r.stops.join(',')}): ${r.core.describe()}`);
  expect(problems).toEqual([]);
}

describe('bare-metal: modes', () => {
  it('real -> protected -> real, unreal mode, 16/32-bit code, A20', async () => {
    const r = await runProgram('mode');
    check(r, [
      [1, 0, '9.1.1: the processor starts in real mode, CR0.PE = 0'],
      [2, 0x08, '9.9.1: the far JMP after setting PE loads CS with the protected-mode selector'],
      [3, 4, '3.4.5: D = 1 code segment -> 32-bit operands (PUSH imm8 pushes 4 bytes)'],
      [4, 2, '3.4.5: D = 0 code segment -> 16-bit operands (PUSH imm8 pushes 2 bytes)'],
      [5, 0x30, 'vol. 2 JMP: far JMP to a code segment loads its selector into CS'],
      [6, 0x12345678, 'vol. 1 3.6: 66h selects 32-bit operands in a 16-bit segment'],
      [7, 0, '9.9.2: clearing CR0.PE returns to real-address mode'],
      [8, 0, '9.9.2: the far JMP in real mode loads CS with the paragraph 0'],
      [9, 0xcafebabe, '9.9.2: segment limits stay as cached: DS keeps the 4 GiB limit (unreal mode)'],
      [10, 1, '20.1.5 / 9.9.2: ES with the 64 KiB limit -> #GP (IVT vector 13) for offset 0x10000'],
      [11, 0, '20.1.4: a real-mode fault pushes the IP of the faulting instruction'],
      [12, 0x22222222, '21.33.1 / 8.7.13.4: A20 masked: FFFF:3010 (0x103000) wraps to 0x3000'],
      [13, 0x5a5a5a5a, 'A20 only masks address bit 20: 0x200004 is unaffected'],
      [14, 0x44444444, 'A20 masked applies to every linear address (unreal 0x103000 -> 0x3000)'],
      [15, 0x44444444, 'A20 open: a write to 0x103000 leaves 0x3000 alone'],
      [16, 0x33333333, 'A20 open: 0x103000 is its own memory'],
      [17, 0x33333333, 'A20 open: FFFF:3010 is linear 0x103000'],
      [18, 0xcafebabe, 'A20 masked: 0x300000 reads physical 0x200000'],
      [19, 1, '9.9.2: a 64 KiB limit cached from a 16-bit PM data segment is enforced after returning'],
    ]);
  });
});

describe('bare-metal: paging', () => {
  it('4 KiB / 4 MiB pages, A/D, #PF codes, WP, INVLPG, CR3, global pages', async () => {
    const r = await runProgram('paging');
    const A = 0xaaaaaaaa, B = 0xbbbbbbbb;
    check(r, [
      [1, 1, '4.1: CR0.PG set enables paging'],
      [2, 0x13572468, '4.3: a 4 KiB PTE maps linear 0x400000 to physical 0x200000'],
      [3, 0x20, '4.8: a read sets the PTE accessed bit, not dirty'],
      [4, 0x20, '4.8: the PDE used for the translation gets its accessed bit'],
      [5, 0x60, '4.8: a write sets the dirty bit of the PTE'],
      [6, 0x4d4d4d4d, '4.3: CR4.PSE and PDE.PS map a 4 MiB page (0x803000 -> physical 0x3000)'],
      [7, 0x20, '4.8: a read through a 4 MiB PDE sets its accessed bit'],
      [8, 0x60, '4.8: a write through a 4 MiB PDE sets its dirty bit'],
      [9, 14, '4.7: a not-present PDE -> #PF'],
      [10, 0, '4.7 fig. 4-12: read, not present, CPL 0 -> error code 0'],
      [11, 0xc00010, '4.7: CR2 holds the faulting linear address'],
      [12, 2, '4.7: write to a not-present PTE at CPL 0 -> W/R = 1, P = 0'],
      [13, 0x401ffc, '4.7: CR2 = linear address of the write'],
      [14, 5, 'two ring-0 and three ring-3 page faults so far'],
      [15, 14, 'the ring-3 faults are #PF'],
      [16, 5, '4.6 / 4.7: CPL 3 read of a supervisor page -> P = 1, U/S = 1'],
      [17, 7, '4.6 / 4.7: CPL 3 write of a supervisor page -> P, W/R, U/S'],
      [18, 7, '4.6: CPL 3 write to a read-only user page -> P, W/R, U/S'],
      [19, 0x403008, '4.7: CR2 of that write'],
      [20, 0x13572468, '4.6: reads of a read-only page are allowed'],
      [35, 0x13572468, '4.6: CPL 3 may read a read-only user page'],
      [21, 0x77, '4.6: CR0.WP = 0: supervisor writes ignore R/W'],
      [22, 3, '4.6: CR0.WP = 1: supervisor write to a read-only page -> #PF(P | W/R)'],
      [23, 0x77, '4.7: the faulting write did not happen'],
      [24, 1, 'one fault in this part'],
      [25, A, '4.3: PTE -> page A'],
      [26, A, '4.10.4.3: the TLB may keep the old translation until invalidated (this core does)'],
      [27, B, '4.10.4.1: INVLPG drops the translation: the new PTE is used'],
      [28, B, '4.10.4.3: changed again without invalidation: cached translation'],
      [29, A, '4.10.4.1: MOV to CR3 invalidates non-global translations'],
      [30, A, '4.10.2.4: a global PTE with CR4.PGE'],
      [31, A, '4.10.4.1: MOV to CR3 keeps global translations when CR4.PGE = 1'],
      [32, B, '4.10.4.1: toggling CR4.PGE invalidates all translations, global too'],
      [33, B, '4.10.4.1: non-global entries are still flushed by a CR3 load under PGE'],
      [34, 0x99, '4.1: CR0.PG = 0: linear = physical again'],
    ]);
  });
});

describe('bare-metal: privilege', () => {
  it('ring transitions through IRET, RETF, interrupt/trap/call gates, conforming code', async () => {
    const r = await runProgram('privilege');
    check(r, [
      [1, 0x1b, 'vol. 2 IRET: returning to an outer level loads CS from the stack (CPL = RPL 3)'],
      [2, 0x23, 'vol. 2 IRET: returning to an outer level pops SS:ESP'],
      [3, 0x2ffec, '6.12.1: to a more privileged level the stack switches to TSS SS0:ESP0, 5 dwords pushed'],
      [4, 0, '6.12.1.3: an interrupt gate clears IF'],
      [5, 0, '6.12.1: the pushed EIP of INT n is the next instruction'],
      [6, 0x1b, '6.12.1 fig. 6-4: CS of the interrupted procedure'],
      [7, 0xad7, '6.12.1 fig. 6-4: EFLAGS before the interrupt (POPF at CPL 3 kept IF)'],
      [8, 0x40000, '6.12.1 fig. 6-4: the ring-3 ESP'],
      [9, 0x23, '6.12.1 fig. 6-4: the ring-3 SS'],
      [10, 0x10, '6.12.1: SS loaded from TSS.SS0'],
      [11, 0x200, '6.12.1.3: a trap gate leaves IF unchanged'],
      [12, 0x2ffe8, '6.13: an error code is pushed after EIP (6 dwords)'],
      [13, 0x10, '6.15 #GP / vol. 2 MOV: DS load with DPL < CPL -> #GP(selector)'],
      [14, 0, '6.15: #GP is a fault: EIP of the faulting MOV'],
      [15, 0x1b, '6.12.1: CS of the faulting ring-3 code'],
      [16, 0x40000, '6.12.1: ring-3 ESP'],
      [17, 0x23, '6.12.1: ring-3 SS'],
      [18, 0x19a, '6.12.1.1: INT n with gate DPL < CPL -> #GP(vector * 8 + 2)'],
      [19, 0x1b, 'vol. 2 RET: far return to an outer level loads CS (CPL 3)'],
      [20, 0x23, 'vol. 2 RET: far return to an outer level pops SS'],
      [21, 0x3ff00, 'vol. 2 RET: and ESP'],
      [22, 0, 'vol. 2 RET: ES (DPL 0 data) is nulled on return to CPL 3'],
      [23, 0, 'vol. 2 RET: GS (DPL 0 data) is nulled'],
      [24, 0x23, 'vol. 2 RET: DS (DPL 3) is kept'],
      [25, 0x48, 'vol. 2 RET: a conforming code segment in FS is kept'],
      [26, 0x1b, 'conforming readable code can be read at CPL 3 through FS'],
      [27, 0x2ffe8, '5.8.5: call gate to an inner level: SS0:ESP0 stack, SS ESP 2 params CS EIP'],
      [28, 0, '5.8.5 fig. 5-13: return EIP after the far CALL'],
      [29, 0x1b, '5.8.5 fig. 5-13: caller CS'],
      [30, 0x2222, '5.8.5: parameters copied in the same order (last pushed at the lowest address)'],
      [31, 0x1111, '5.8.5: the second parameter'],
      [32, 0x3fef8, '5.8.5: caller ESP pointing at the parameters'],
      [33, 0x23, '5.8.5: caller SS'],
      [34, 0x08, '5.8.5: CS = gate target selector, CPL 0'],
      [35, 0x3ff00, 'vol. 2 RET imm16: the parameters are released on the caller stack too'],
      [36, 0x1b, 'vol. 2 RET: back at CPL 3'],
      [37, 0x4b, '5.8.1.2: conforming code runs at the caller CPL; CS.RPL = CPL'],
      [38, 0x23, '5.8.1.2: no stack switch for conforming code'],
      [39, 0x08, 'vol. 2 CALL: far call to non-conforming code with DPL != CPL -> #GP(selector)'],
      [40, 0x1b, 'the #GP came from CPL 3'],
    ]);
  });
});
