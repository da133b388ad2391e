// Bare-metal system tests: the nasm programs in test/cpu/baremetal/ run in the core from real
// mode and store results in RAM slots; each expected value below carries the SDM rule it comes
// from (Intel SDM vol. 3 unless the chapter says vol. 2). Run: npx vitest run test/cpu/baremetal.test.ts
import { describe, expect, it, vi } from 'vitest';
import { type Expect, BareHost, RAM_BYTES, check, resultSlot, runProgram } from './baremetal/runner.js';
import { loadCore } from '../../src/cpu/core.js';
import { readCoreWasm } from '../../src/cpu/core-file.js';

// Seconds of work each (some programs move to a second core after every instruction, copying
// its RAM), more on a loaded machine: the timeout only catches a hang.
vi.setConfig({ testTimeout: 120_000 });

const NT = 0x4000;

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
      [20, 0x6ffa, '20.1.4: a real-mode interrupt pushes FLAGS, CS and IP (6 bytes)'],
      [21, 0, '20.1.4: IF and TF are cleared on entry'],
      [22, 0, '20.1.4: the pushed IP is the instruction after INT n'],
      [23, 0, '20.1.4: the pushed CS'],
      [24, 0x200, '20.1.4: the pushed FLAGS still has IF'],
      [25, 1, '20.1.4: LIDT relocates the real-mode vector table'],
      [26, 1, '20.1.4: a vector beyond the IDTR limit -> #GP'],
    ]);
  });
});

describe('bare-metal: paging', () => {
  it('4 KiB / 4 MiB pages, A/D, #PF codes, WP, INVLPG, CR3, global pages', async () => {
    const r = await runProgram('paging', { staleTlbSlots: [26, 28, 31, 40] });
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
      [36, 5, '4.6.1: a supervisor PDE makes the whole 4 MiB supervisor: CPL 3 read -> #PF(P | U/S)'],
      [37, 0x13572468, '4.6.1: a read-only PDE still allows reads'],
      [38, 7, '4.6.1: a read-only PDE forbids CPL 3 writes even if the PTE allows them'],
      [39, 3, '4.6.1: with CR0.WP = 1 the PDE R/W also binds supervisor writes'],
      [40, 0x4d4d4d4d, '4.10.4.3: a changed 4 MiB PDE is not seen before invalidation'],
      [41, 0x40404040, '4.10.4.1: INVLPG of any address in a 4 MiB page drops its translation'],
      [42, 3, '4.10.4.1: after INVLPG the new read-only PTE applies: #PF(P | W/R)'],
      [43, 0x400020, '4.7: CR2 of that write'],
      [44, 0x13572468, '4.6.1: ring 0 reads a supervisor page'],
      [45, 5, '4.6.1 / 4.7: the same code at ring 3 reads it: #PF(P | U/S)'],
      [46, 0x5a5a5a5a, '6.5: a fault reports the state before the instruction: the faulting MOV r32, m32 left ECX alone'],
      [47, 0x77, '6.5 / 4.6: MOV m32, r32 to the read-only page with CR0.WP = 1 faults and writes nothing'],
      [48, 0x404000, '6.5: PUSH to a read-only stack page at ring 3 faults with ESP as it was'],
      [49, 7, '4.7: #PF(P | W/R | U/S) for that write'],
      [50, 0x404000, '6.5: so does CALL'],
      [51, 0x31415926, '6.5: ADD to a read-only page at ring 3 faults and writes nothing'],
      [52, 7, '4.7: #PF(P | W/R | U/S): the write permission is checked before the read'],
      [53, 0x5a5a5a5a, '6.5: MOVZX from a page not present leaves its register as it was'],
      [54, 4, '4.7: #PF(U/S) for that read'],
      [55, 1, 'vol. 2 REP: a fault in the second iteration leaves ECX as the first left it'],
      [56, 0x407000, 'vol. 2 REP: and EDI'],
      [57, 0x61616161, 'the first iteration stored its dword'],
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
      [41, 0x2fff6, '6.12.1 / fig. 6-4: a 16-bit gate pushes 16-bit SS SP FLAGS CS IP (10 bytes)'],
      [42, 0, '6.12.1: the pushed IP: next instruction'],
      [43, 0x1b, '6.12.1: the pushed CS (16 bits)'],
      [44, 0xff00, '6.12.1: the pushed SP (low 16 bits of ESP)'],
      [45, 0x23, '6.12.1: the pushed SS'],
      [46, 0x11, '19.5.2: a byte port allowed by the I/O bitmap at CPL > IOPL'],
      [47, 0, '19.5.2: a word access needs every covered bit clear -> #GP(0)'],
      [48, 0, '19.5.2: #GP is a fault: EIP of the OUT'],
      [49, 0x33, '19.5.1: CPL <= IOPL: I/O allowed without the bitmap'],
    ]);
    // 19.5: only the permitted OUTs reached the bus
    expect(r.host.outs.filter((o) => o.port === 0xe8 || o.port === 0xe9)).toEqual([
      { port: 0xe8, value: 0x11 }, { port: 0xe9, value: 0x33 },
    ]);
  });
});

describe('bare-metal: tasks', () => {
  it('JMP/CALL/IRET task switches, task gates, #DF task, CR0.TS and #NM', async () => {
    const r = await runProgram('task');
    check(r, [
      [1, 0x40, '7.3: a JMP to a TSS descriptor loads TR with its selector'],
      [2, 8, '7.3 step 10 / table 7-2: a task switch sets CR0.TS'],
      [3, 0, 'table 7-2: JMP: NT of the new task from its TSS (clear)'],
      [4, 0, 'table 7-2: JMP clears the busy flag of the old task'],
      [5, 2, 'table 7-2: the busy flag of the new task is set'],
      [6, 0, 'table 7-2: JMP does not write the previous-task link'],
      [7, 0x1234, '7.3 step 8: the old task state (EAX) is saved in its TSS'],
      [8, 0x1234, '7.3: switching back resumes with the saved registers'],
      [9, 0x28, '7.3: TR back to the main TSS'],
      [10, 0, 'table 7-2: JMP away clears B busy'],
      [11, 2, 'table 7-2: the main TSS is busy again'],
      [12, 8, '7.3: CR0.TS set by the switch back'],
      [13, NT, 'table 7-2: CALL sets NT in the new task'],
      [14, 0x28, 'table 7-2: CALL loads the previous-task link with the old TSS selector'],
      [15, 2, 'table 7-2: CALL leaves the old task busy'],
      [16, 2, 'table 7-2: the called task is busy'],
      [17, 0, 'table 7-2: IRET: NT of the resumed task from its TSS (clear)'],
      [18, 0, 'table 7-2: IRET clears the busy flag of the task left'],
      [19, 2, 'table 7-2: IRET: the resumed task stays busy'],
      [20, 0, 'table 7-2: IRET clears NT in the EFLAGS image of the task left'],
      [32, 0x28, 'table 7-2: the link field of the left task is unchanged'],
      [21, 7, '2.5 / 13.4: an x87 instruction with CR0.TS = 1 -> #NM'],
      [22, 0, 'vol. 2 CLTS: clears CR0.TS'],
      [33, 1, 'after CLTS the x87 works (FLD1 / FISTP)'],
      [23, 7, 'table 2-2: WAIT with TS = 1 and MP = 1 -> #NM'],
      [24, 2, 'table 2-2: WAIT with MP = 0 does not fault on TS'],
      [25, 0, '6.15 #DF: error code 0, pushed on the stack of the new task (7.3 step 12)'],
      [26, 0x28, '7.4: an exception through a task gate links like CALL'],
      [27, 0x58, '6.11: a task gate in the IDT switches to its TSS'],
      [28, NT, '7.4: NT set in the handler task'],
      [29, 1, '7.4: IRET with NT returns to the interrupted task'],
      [30, 0x37ffc, '7.3: the error code is pushed on the new task stack (ESP from its TSS - 4)'],
      [31, 0, '6.15 table 6-5: #GP -> gate not present #NP -> #DF; the faulting EIP is saved'],
      [36, 0x2222, '7.3 step 11: with paging on, CR3 is loaded from the new TSS (its mapping applies)'],
      [37, 0x101000, '7.2.1: CR3 field of the new TSS'],
      [38, 0x68, '7.3: LDTR loaded from the new TSS'],
      [40, 0x1111, '7.3: switching back loads the old task CR3 from its TSS'],
      [41, 0x100000, '7.2.1: CR3 of the main task'],
      [42, 0, '7.3: a null LDT selector in the TSS leaves LDTR null'],
    ]);
  });
});

describe('bare-metal: virtual-8086 mode', () => {
  it('IRET to v86, #GP frames, IOPL-sensitive instructions, I/O bitmap', async () => {
    const r = await runProgram('v86');
    check(r, [
      [1, 0, '20.2.1: v86 CS is a paragraph (0 from the IRET frame)'],
      [2, 0x100, '20.2.7: IRET to v86 pops ES as a paragraph value'],
      [3, 0xbeef, '20.2.1: linear = selector * 16 + offset (0x100:0010 = 0x1010)'],
      [4, 1, '20.2.7: the monitor IRETs back to v86 after emulating'],
      [5, 4, '20.2.7: INT n, CLI, a denied OUT and HLT each -> #GP in v86 with IOPL 0'],
      [6, 0x2ffd8, '20.3.1.1 fig. 20-4: ring-0 stack from TSS.ESP0 with 9 dwords + error code'],
      [7, 0, '20.3.1.1: DS, ES, FS, GS are loaded with null before the handler runs'],
      [8, 0, '20.2.7: INT n in v86 with IOPL < 3 -> #GP(0)'],
      [9, 0, '20.3.1.1: pushed EIP = the faulting INT'],
      [10, 0, 'fig. 20-4: pushed CS (v86 paragraph)'],
      [11, 0x30002, 'fig. 20-4: pushed EFLAGS with VM set; 17.3.1.1: RF = 1 in the image a fault (#GP) pushes'],
      [12, 0x6000, 'fig. 20-4: pushed v86 ESP'],
      [13, 0, 'fig. 20-4: pushed SS'],
      [14, 0x100, 'fig. 20-4: pushed ES'],
      [15, 0, 'fig. 20-4: pushed DS'],
      [16, 0, 'fig. 20-4: pushed FS'],
      [17, 0, 'fig. 20-4: pushed GS'],
      [18, 0, '20.2.7: CLI with IOPL < 3 -> #GP(0)'],
      [19, 0, '20.2.8.1: OUT to a port denied by the I/O bitmap -> #GP(0)'],
      [20, 0x200, '20.2.7: STI at IOPL 3 sets IF'],
      [21, 0, '20.2.7: CLI at IOPL 3 clears IF'],
      [22, 0x3200, 'vol. 2 POPF: in v86 at IOPL 3 IF is loaded, IOPL is not changed'],
      [23, 0x3200, 'vol. 2 PUSHF: VM is cleared in the pushed image'],
      [24, 1, 'the OUT to the denied port was skipped by the monitor'],
      [25, 1, '20.2.8.1: the I/O bitmap applies in v86 regardless of IOPL'],
      [26, 0x2ffdc, '20.3.1.1: INT n at IOPL 3 goes to the ring-0 handler: 9-dword frame'],
      [27, 0, '20.3.1.1: pushed EIP = after the INT'],
      [28, 0x23000, 'fig. 20-4: pushed EFLAGS: VM and IOPL 3'],
      [29, 0, '20.3.1.1: the handler runs with VM clear'],
      [30, 0x100, 'fig. 20-4: ES saved in the frame'],
    ]);
    const ports = r.host.outs.filter((o) => o.port === 0xe8 || o.port === 0xe9);
    // 20.2.8.1: only the port allowed by the bitmap reached the bus
    expect(ports).toEqual([{ port: 0xe8, value: 0x5e }, { port: 0xe8, value: 0x60 }]);
  });
});

describe('bare-metal: debug', () => {
  it('single-step, instruction breakpoints, ICEBP, INT3, INTO', async () => {
    const r = await runProgram('debug');
    check(r, [
      [1, 0xffff0ff0, '17.2.3: DR6 bits 4-11 and 16-31 read as 1 (bit 12 as 0) on P6'],
      [2, 0x400, '17.2.4: DR7 bit 10 reads as 1'],
      [3, 3, '17.3.1.4: one single-step trap per instruction while TF = 1'],
      [4, 0, '17.3.1.4: no trap after the POPF that set TF; first after the next instruction'],
      [5, 0, '17.3.1.4: trap-class: EIP = next instruction'],
      [6, 0, '17.3.1.4: third trap after MOV'],
      [7, 0x4000, '17.2.3: DR6.BS for single-step'],
      [8, 0, 'the handler cleared TF in the frame: IRET returned with TF = 0'],
      [22, 2, '6.8.3: MOV SS inhibits the single-step trap after it'],
      [23, 0, '17.3.1.4: trap after the instruction before MOV SS'],
      [9, 0x55, '17.3.1.1 / 17.3.1.1: with RF set in the frame the instruction runs'],
      [10, 2, '17.3.1.1: each execution hits the enabled breakpoint; none once L0 is clear'],
      [11, 0, '17.3.1.1: instruction breakpoint is a fault: EIP = breakpoint address'],
      [12, 1, '17.2.3: DR6.B0'],
      [13, 0, '17.3.1.1: the second hit at the same address'],
      [14, 0, '17.3.1.1: RF is cleared after the instruction completes'],
      [25, 2, '17.3.1.2: a write hits DR1 (write-only); a read does not; byte 8 is outside both'],
      [26, 0, '17.3.1.2: data breakpoints are traps: EIP after the accessing instruction'],
      [27, 2, '17.2.3: DR6.B1 for the write that overlaps the aligned DR1 dword'],
      [28, 0, '17.3.1.2: R/W = 11 also traps on reads'],
      [29, 4, '17.2.3: DR6.B2'],
      [30, 1, '17.2.4: with CR4.DE, R/W = 10 breaks on I/O to the port in DR3, not on others'],
      [31, 0, '17.3.1.2: I/O breakpoints are traps: EIP after the OUT'],
      [32, 8, '17.2.3: DR6.B3'],
      [15, 1, 'vol. 2 INT1: ICEBP raises #DB'],
      [16, 0, 'vol. 2 INT1: trap: EIP after the F1 byte'],
      [17, 3, '6.15: INT3 -> #BP (vector 3)'],
      [18, 0, '6.15 #BP: trap: EIP after the CC byte'],
      [19, 0, 'vol. 2 INT n: INT 3 (CD 03) saves EIP after the two bytes'],
      [20, 4, 'vol. 2 INTO: OF = 1 -> #OF (vector 4)'],
      [21, 0, 'vol. 2 INTO: trap: EIP after INTO'],
    ]);
  });
});

describe('bare-metal: exceptions', () => {
  it('#DE #UD #GP #NP #SS error codes, double fault table, triple fault', async () => {
    const r = await runProgram('exceptions');
    // [first slot, vector, error code, rule]; slot + 2 holds EIP - faulting instruction (0: faults)
    const faults: [number, number, number, string][] = [
      [1, 0, 0, 'vol. 2 DIV: divisor 0 -> #DE, a fault'],
      [4, 0, 0, 'vol. 2 IDIV: quotient too large -> #DE'],
      [7, 6, 0, 'vol. 2 UD2 -> #UD'],
      [10, 6, 0, 'vol. 2 LOCK: LOCK on a non-lockable instruction -> #UD'],
      [13, 6, 0, 'vol. 2 MOV: MOV to CS -> #UD'],
      [16, 13, 0x1000, 'vol. 2 MOV: selector beyond the descriptor table limit -> #GP(selector)'],
      [19, 13, 0x1000, '6.13: error code bits 0-1 are EXT/IDT, not the RPL'],
      [22, 11, 0x40, 'vol. 2 MOV: segment not present -> #NP(selector)'],
      [25, 13, 0x10, 'vol. 2 MOV: SS with RPL != CPL -> #GP(selector)'],
      [28, 12, 0x40, 'vol. 2 MOV: SS not present -> #SS(selector)'],
      [31, 13, 0x48, 'vol. 2 MOV: SS not a writable data segment -> #GP(selector)'],
      [34, 13, 0x58, 'vol. 2 MOV: execute-only code into DS -> #GP(selector)'],
      [37, 13, 0, '5.4: writing into a code segment -> #GP(0)'],
      [40, 13, 0, '5.4: writing into a read-only data segment -> #GP(0)'],
      [43, 13, 0, '5.4.1: memory access through a null selector -> #GP(0)'],
      [46, 13, 0, '5.3: an access crossing the segment limit -> #GP(0)'],
      [49, 12, 0, '6.15 #SS: SS-relative access beyond the stack limit -> #SS(0)'],
      [52, 11, 0x33, '6.15 table 6-5: benign #UD, gate not present -> #NP(6*8 + IDT + EXT) handled serially'],
    ];
    const expects: Expect[] = [];
    for (const [n, vec, err, rule] of faults) {
      expects.push([n, vec, rule], [n + 1, err, `${rule} (error code)`], [n + 2, 0, `${rule} (fault EIP)`]);
    }
    expects.push(
      [55, 8, '6.15 table 6-5: #GP, then #NP delivering it (contributory + contributory) -> #DF'],
      [56, 0, '6.15 #DF: error code 0'],
      [58, 8, '6.15 table 6-5: #NP, then #NP delivering it -> #DF'],
      [59, 0, '6.15 #DF: error code 0'],
      [63, 0, 'the triple fault stops the program'],
      [64, 0, 'vol. 2 DIV: divisor 0 -> #DE'],
      [67, 0x10000, 'vol. 3 17.3.1.1: a fault-class exception pushes RF = 1'],
      [68, 0, 'vol. 3 17.3.1.1: a trap (#BP from INT3) pushes RF as it was (0)'],
    );
    check(r, expects);
    // 6.15 #DF: a fault while delivering #DF (no IDT) -> shutdown; the core reports a reset.
    expect(r.stops).toContain('reset');
  });
});

describe('bare-metal: interrupts', () => {
  it('INTR with IF, the STI shadow, HLT wake-up, NMI and NMI blocking', async () => {
    const r = await runProgram('interrupts', {
      onHalt: (core, host, n) => {
        if (n === 0 || n === 1) { // first HLT (IF = 1), then the HLT with IF = 0
          host.vector = 0x41;
          core.setIntr(true);
          return true;
        }
        if (n === 2) { core.raiseNmi(); return true; } // still halted: only NMI wakes it
        return false;
      },
    });
    check(r, [
      [1, 0, '6.8.1: IF = 0 masks INTR: the request is held'],
      [2, 1, '6.8.1: after STI the held interrupt is delivered'],
      [3, 1, 'vol. 2 STI: interrupts are recognized after the instruction following STI'],
      [4, 0, '6.5: the pushed EIP is the next instruction not yet executed'],
      [5, 0, '6.12.1.3: interrupt gate: IF clear in the handler'],
      [6, 0x200, '6.12.1: the pushed EFLAGS has IF set'],
      [7, 0x40, '6.3.1: the vector comes from the interrupt-acknowledge cycle'],
      [8, 1, 'vol. 2 HLT: an enabled interrupt resumes execution'],
      [9, 0, 'vol. 2 HLT: the saved EIP points to the instruction after HLT'],
      [10, 0x41, '6.3.1: vector of the second request'],
      [11, 2, '6.7: NMI is not masked by IF; the second NMI arrives after IRET'],
      [12, 1, '6.7.1: while an NMI handler runs, further NMIs are blocked until IRET'],
      [13, 0, '6.5: NMI is taken at an instruction boundary: EIP after the OUT'],
      [14, 11, 'vol. 2 HLT: an NMI resumes a halted processor even with IF = 0'],
      [15, 0, 'vol. 2 HLT: the NMI frame points after HLT'],
      [16, 0, '6.8.1: INTR stays masked by IF = 0 in HLT'],
    ]);
    expect(r.stops.slice(0, 3)).toEqual(['hlt', 'hlt', 'hlt']);
    // vol. 2 HLT: with IF = 1 and nothing pending, the core stops with 'hlt' before the wake-up.
    expect(r.stops[0]).toBe('hlt');
    expect(r.host.intAcks).toBe(2);
  });
});

describe('bare-metal: system instructions', () => {
  it('descriptor-table registers, LAR/LSL/VERR/VERW, ARPL, MSW, CRs/DRs, MSRs, SYSENTER, CPUID, RDTSC', async () => {
    const r = await runProgram('system');
    const GP0 = 0xd0000; // (vector << 16) | error code, as GPTRY stores it
    const UNCHANGED = 0xdeadbeef;
    const LAR_MASK = 0x00f0ff00; // vol. 2 LAR: bits 16-19 (limit) are undefined
    check(r, [
      [1, 0x6f, 'vol. 2 SGDT: the GDTR limit (14 descriptors - 1)'],
      [2, 0, 'vol. 2 SGDT: the GDTR base'],
      [3, 0x7ff, 'vol. 2 SIDT: IDTR limit'],
      [4, 0x20000, 'vol. 2 SIDT: IDTR base'],
      [5, 0, 'vol. 2 SLDT: r32 destination: selector zero-extended on P6 (LDTR null)'],
      [6, 0x28, 'vol. 2 STR: r32 destination: upper 16 bits cleared'],
      [7, 0x8b, 'vol. 2 LTR: the TSS descriptor is marked busy'],
      [8, 0x40, 'vol. 2 LLDT: LDTR loaded with the selector'],
      [9, GP0 | 0x28, 'vol. 2 LTR: a busy TSS -> #GP(selector)'],
      [10, GP0 | 0x48, 'vol. 2 LLDT: not an LDT descriptor -> #GP(selector)'],
      [11, 1, 'vol. 2 LAR: valid code segment: ZF = 1'],
      [12, 0x00c09b00, 'vol. 2 LAR: dword 2 of the descriptor AND 00FxFF00h', LAR_MASK],
      [13, 1, 'vol. 2 LAR table 3-?: a busy 32-bit TSS is valid'],
      [14, 0x00008b00, 'vol. 2 LAR: TSS access rights', LAR_MASK],
      [15, 1, 'vol. 2 LAR: a 32-bit call gate is valid'],
      [16, 0x0000ec00, 'vol. 2 LAR: call gate access rights', LAR_MASK],
      [17, 0, 'vol. 2 LAR: an interrupt gate is not valid: ZF = 0'],
      [18, UNCHANGED, 'vol. 2 LAR: destination unchanged when ZF = 0'],
      [19, 0, 'vol. 2 LAR: null selector: ZF = 0'],
      [20, UNCHANGED, 'vol. 2 LAR: unchanged'],
      [21, 0, 'vol. 2 LAR: selector beyond the GDT limit: ZF = 0'],
      [22, UNCHANGED, 'vol. 2 LAR: unchanged'],
      [23, 1, 'vol. 2 LSL: valid code segment'],
      [24, 0xffffffff, 'vol. 2 LSL: limit scaled by G'],
      [25, 1, 'vol. 2 LSL: valid data segment'],
      [26, 0xffff, 'vol. 2 LSL: byte-granular limit'],
      [27, 1, 'vol. 2 LSL: a TSS has a limit'],
      [28, 0x2068, 'vol. 2 LSL: the TSS limit'],
      [29, 0, 'vol. 2 LSL: call gates are not valid: ZF = 0'],
      [30, UNCHANGED, 'vol. 2 LSL: unchanged'],
      [31, 1, 'vol. 2 LSL: an LDT is valid'],
      [32, 0x17, 'vol. 2 LSL: its limit'],
      [33, 1, 'vol. 2 VERR: writable data is readable'],
      [34, 1, 'vol. 2 VERW: writable data'],
      [35, 1, 'vol. 2 VERR: readable code'],
      [36, 0, 'vol. 2 VERW: code is never writable'],
      [37, 0, 'vol. 2 VERR: execute-only code is not readable'],
      [38, 1, 'vol. 2 VERR: read-only data is readable'],
      [39, 0, 'vol. 2 VERW: read-only data is not writable'],
      [40, 0, 'vol. 2 VERR: system descriptors (TSS) fail'],
      [41, 1, 'vol. 2 ARPL: dest RPL < src RPL: ZF = 1'],
      [42, 0x0b, 'vol. 2 ARPL: dest RPL raised to the source RPL'],
      [43, 0, 'vol. 2 ARPL: otherwise ZF = 0'],
      [44, 0x1b, 'vol. 2 ARPL: dest unchanged'],
      [45, 0, 'vol. 2 SMSW: bits 0-15 of CR0'],
      [46, 0x9, 'vol. 2 LMSW: loads MP EM TS; cannot clear PE'],
      [47, 0x1, 'vol. 2 CLTS: clears CR0.TS'],
      [48, 0x12345678, 'vol. 2 MOV CR: CR2 is read/write'],
      [49, 0x33333330, 'vol. 2 MOV DR: DR0-DR3 hold addresses'],
      [50, 0x90, '2.5: CR4.PSE and PGE read back'],
      [51, 0x2f000, 'vol. 4 table 2-2: IA32_SYSENTER_ESP (175h) read back'],
      [52, 0, 'vol. 2 RDMSR: EDX = high half written by WRMSR'],
      [53, 0x08, 'vol. 4: IA32_SYSENTER_CS (174h)'],
      [54, 0, 'vol. 4: IA32_SYSENTER_EIP (176h)'],
      [55, GP0, 'vol. 2 RDMSR: reserved or unimplemented MSR -> #GP(0)'],
      [56, 0x1b, 'vol. 2 SYSEXIT: CS = SYSENTER_CS + 16, RPL 3'],
      [57, 0x23, 'vol. 2 SYSEXIT: SS = SYSENTER_CS + 24, RPL 3'],
      [58, 0x3ffc0, 'vol. 2 SYSEXIT: ESP = ECX'],
      [59, GP0, 'vol. 2 SYSEXIT: CPL != 0 -> #GP(0)'],
      [60, 0x08, 'vol. 2 SYSENTER: CS = SYSENTER_CS'],
      [61, 0x10, 'vol. 2 SYSENTER: SS = SYSENTER_CS + 8'],
      [62, 0x2f000, 'vol. 2 SYSENTER: ESP = IA32_SYSENTER_ESP'],
      [63, 0, 'vol. 2 SYSENTER: clears IF'],
      [64, GP0, 'vol. 2 SYSENTER: IA32_SYSENTER_CS[15:2] = 0 -> #GP(0)'],
      [65, 0x756e6547, 'vol. 2 CPUID 0: "Genu"'],
      [66, 0x49656e69, 'vol. 2 CPUID 0: "ineI"'],
      [67, 0x6c65746e, 'vol. 2 CPUID 0: "ntel"'],
      [68, 1, 'vol. 2 CPUID 0: EAX = highest leaf, at least 1'],
      [69, 0x600, 'vol. 2 CPUID 1: family 6 (P6), EAX[11:8]', 0xf00],
      // vol. 2 CPUID 1 table 3-11: FPU DE PSE TSC MSR CX8 SEP MTRR PGE CMOV PAT set ...
      [70, 0x1b93d, 'vol. 2 CPUID 1 EDX: FPU DE PSE TSC MSR CX8 SEP MTRR PGE CMOV PAT', 0x1b93d],
      // ... VME, APIC (no local APIC wired), MMX, FXSR, SSE, SSE2 clear
      [70, 0, 'vol. 2 CPUID 1 EDX: no VME, APIC, MMX, FXSR, SSE, SSE2', 0x7800202],
      [71, 1, 'vol. 2 RDTSC: the counter increases'],
      [72, 0, 'vol. 2 INVD / WBINVD at CPL 0: no exception'],
      [73, 0, 'vol. 2 VERR: DPL 0 data at CPL 3: ZF = 0'],
      [74, 1, 'vol. 2 VERW: DPL 3 writable data at CPL 3'],
      [75, 1, 'vol. 2 LAR: conforming code skips the DPL check'],
      [76, 0x00c09f00, 'vol. 2 LAR: conforming code access rights', LAR_MASK],
      [77, 0, 'vol. 2 LAR: DPL < CPL: ZF = 0'],
      [78, UNCHANGED, 'vol. 2 LAR: unchanged'],
      [79, 1, 'vol. 2 LAR: a DPL-3 call gate at CPL 3'],
      [80, 0x0000ec00, 'vol. 2 LAR: call gate rights', LAR_MASK],
      [81, GP0, 'vol. 2 RDTSC: CR4.TSD = 1 and CPL > 0 -> #GP(0)'],
      [82, GP0, 'vol. 2 WBINVD: CPL > 0 -> #GP(0)'],
      [83, GP0, 'vol. 2 MOV CR: CPL > 0 -> #GP(0)'],
      [84, GP0, 'vol. 2 CLI: CPL > IOPL -> #GP(0)'],
      [85, GP0, 'vol. 2 LLDT: CPL > 0 -> #GP(0)'],
    ]);
  });
});

describe('bare-metal: segment checks', () => {
  it('expand-down limits, accessed bit, LDT selectors, #AC, CR0.EM, #TS', async () => {
    const r = await runProgram('segments');
    const NONE = 0xffffffff; // no exception; else (vector << 16) | error code
    check(r, [
      [1, 0xd0000, '5.3: expand-down: offsets up to the limit are outside the segment -> #GP(0)'],
      [2, NONE, '5.3: expand-down: limit + 1 is the lowest valid offset'],
      [3, 0xd0000, '5.3: an access reaching below limit + 1 faults'],
      [4, NONE, '5.3: expand-down with B = 1: upper bound 0xffffffff'],
      [5, NONE, '5.3: expand-down with B = 0: upper bound 0xffff'],
      [6, 0xd0000, '5.3: B = 0: an access beyond 0xffff faults'],
      [7, 0xc0000, '6.15 #SS: SS-relative access outside an expand-down stack -> #SS(0)'],
      [8, 0x92, 'the descriptor starts not accessed'],
      [9, 0x93, '3.4.5.1: loading a segment register sets the accessed bit in the descriptor'],
      [10, 0xd000c, 'vol. 2 MOV: TI = 1 with a null LDTR -> #GP(selector)'],
      [11, 0x1dc0ffee, '3.5.1: TI = 1 selects the LDT: base 0x3000 from LDT[1]'],
      [12, 0xd001c, 'vol. 2 MOV: index beyond the LDT limit -> #GP(selector)'],
      [13, 0x70000, '2.5 table 2-2: CR0.EM = 1: x87 instruction -> #NM'],
      [14, NONE, 'table 2-2: EM = 1, MP = 0: WAIT does not fault'],
      [15, NONE, '6.15 #AC: no alignment check at CPL 0'],
      [17, NONE, '6.15 #AC: an aligned word is fine'],
      [19, 0x37ffc, '7.3: #TS through a task gate: error code on the handler task stack'],
      [20, 0, 'vol. 2 INT n: null SS in the TSS for the new CPL -> #TS(EXT = 0)'],
      [21, 0x1b, '6.15 #TS: a fault: the INT is retried after the repair (from ring 3)'],
      [22, 0x2ffec, '6.12.1: the retried INT switched to SS0:ESP0'],
      [23, 0xa0068, '7.2.2 / vol. 2 JMP: TSS limit below 67h -> #TS(TSS selector)'],
    ]);
  });
});

// Known core gap: alignment checking (#AC) is not implemented. It needs a flag the memory path
// can test cheaply (CPL 3 && CR0.AM && EFLAGS.AC) kept up to date on POPF/IRET/task switch/CPL
// and CR0 changes; see the report. This test documents the SDM behaviour and is expected to fail
// until then: when #AC lands it will "unexpectedly pass" - turn it into a plain it().
describe('bare-metal: alignment check', () => {
  it('#AC(0) for unaligned CPL-3 accesses with CR0.AM and EFLAGS.AC', async () => {
    const r = await runProgram('segments');
    check(r, [
      [16, 0x110000, '6.15 #AC: AM = AC = 1, CPL 3, unaligned dword -> #AC(0)'],
      [18, 0x110000, '6.15 #AC: an unaligned word -> #AC(0)'],
    ]);
  });
});

// MOV SS / POP SS hold off the single-step trap for one instruction (SDM vol. 3 6.8.3).
describe('bare-metal: MOV SS debug shadow', () => {
  it('single-step trap held until after the instruction following MOV SS', async () => {
    const r = await runProgram('debug');
    check(r, [[24, 0, '6.8.3: the held trap is taken after the instruction following MOV SS']]);
  });
});

describe('bare-metal: self-modifying code', () => {
  it('every way of writing code reaches its next execution', async () => {
    const r = await runProgram('smc', {
      onHalt: (core, host, n) => {
        if (n !== 0) return false;
        // DMA: new code written by the host, then an interrupt wakes the CPU.
        const at = resultSlot(core, 8) + 1;
        new DataView(core.ram.buffer, core.ram.byteOffset).setUint32(at, 0x55555555, true);
        core.ramWritten(at, 4);
        host.vector = 0x41;
        core.setIntr(true);
        return true;
      },
    });
    check(r, [
      [1, 0x030201, 'vol. 3 8.1.3: a store into the next instruction is seen when it executes (each pass)'],
      [2, 0x11111111, 'the first call runs the code as loaded'],
      [3, 0x22222222, '8.1.3: a store to code that ran before is seen by the next call'],
      [4, 0x33333333, '8.1.3 / 11.6: a store through another linear address of the same physical page'],
      [5, 0x44444444, 'a REP MOVSB over code'],
      [6, 0x55555555, 'a write by the host (DMA) while the CPU was halted'],
      [9, 1275, '8.1.3: a loop storing into its own later block sees each store on its next pass (sum 1..50)'],
      [7, 45150, 'the page rewritten 300 times: every call returns its own immediate (sum 1..300)'],
    ]);
    // runProgram ran it translated by the JIT too (and found the same slots): it really translated.
    expect(r.core.jitStats.translations).toBeGreaterThan(10);
    expect(r.core.jitStats.instructions).toBeGreaterThan(1000);
    expect(r.core.jitStats.failures).toBe(0);
  });
});

describe('bare-metal: the physical memory map', () => {
  it('ROM pages read their image and ignore every write; MMIO pages reach the host', async () => {
    const ROM = 0x300000, MMIO = 0x302000;
    // A ROM image: a word, a byte, and at 0x100 `mov eax, 0x5a5a5a5a; ret`.
    const image = new Uint8Array(0x1000);
    const dv = new DataView(image.buffer);
    dv.setUint32(0, 0x11223344, true);
    image[4] = 0x99;
    image.set([0xb8, 0x5a, 0x5a, 0x5a, 0x5a, 0xc3], 0x100);
    const r = await runProgram('memmap', {
      machine: (core) => {
        core.ram.set(image, ROM);
        core.setMemoryKind(ROM, 0x1000, 'rom');
        core.setMemoryKind(MMIO, 0x1000, 'mmio');
      },
    });
    check(r, [
      [1, 0x11223344, 'a ROM page reads the image the host put there'],
      [2, 0x11223344, 'a dword store to ROM changes nothing (the PC\'s ROM ignores writes)'],
      [3, 0x99, 'nor a byte store'],
      [4, 0, 'nor REP STOSD'],
      [5, 0x11223344, 'nor a read-modify-write (ADD to memory)'],
      [6, 0x88880000, 'a store across a RAM/ROM page boundary writes its RAM half'],
      [7, 0x11223344, '... and not its ROM half'],
      [8, 0x5a5a5a5a, 'code runs from ROM'],
      [9, (MMIO + 0x10 + r.host.mmioReadBias) >>> 0, 'an MMIO read is answered by the host'],
      [10, 0, 'stores into ROM from a translated loop change nothing'],
    ]);
    expect(r.host.mmioWrites).toEqual([{ addr: MMIO + 0x20, size: 4, value: 0x12345678 }]);
  });

  it('refuses a range that is not whole pages, or RAM or ROM without guest RAM behind it', async () => {
    const core = await loadCore(await readCoreWasm(), new BareHost());
    core.init(RAM_BYTES);
    expect(() => core.setMemoryKind(0x300800, 0x1000, 'rom')).toThrow(/whole pages/);
    expect(() => core.setMemoryKind(0x300000, 0x800, 'mmio')).toThrow(/whole pages/);
    expect(() => core.setMemoryKind(RAM_BYTES, 0x1000, 'rom')).toThrow(/inside guest RAM/);
    expect(() => core.setMemoryKind(RAM_BYTES - 0x1000, 0x2000, 'ram')).toThrow(/inside guest RAM/);
    expect(() => core.setMemoryKind(0xfffff000, 0x1000, 'mmio')).not.toThrow();
  });
});
