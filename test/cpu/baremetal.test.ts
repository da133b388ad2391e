// Bare-metal system tests: the nasm programs in test/cpu/baremetal/ run in the core from real
// mode and store results in RAM slots; each expected value below carries the SDM rule it comes
// from (Intel SDM vol. 3 unless the chapter says vol. 2). Run: npx vitest run test/cpu/baremetal.test.ts
import { describe, expect, it } from 'vitest';
import { type BareResult, type Expect, mismatches, runProgram } from './baremetal/runner.js';

const NT = 0x4000;

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
      [11, 0x20002, 'fig. 20-4: pushed EFLAGS with VM set'],
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
      [9, 0x55, '17.3.1.1 / 17.3.1.1: with RF set in the frame the instruction runs'],
      [10, 2, '17.3.1.1: each execution hits the enabled breakpoint; none once L0 is clear'],
      [11, 0, '17.3.1.1: instruction breakpoint is a fault: EIP = breakpoint address'],
      [12, 1, '17.2.3: DR6.B0'],
      [13, 0, '17.3.1.1: the second hit at the same address'],
      [14, 0, '17.3.1.1: RF is cleared after the instruction completes'],
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
        if (n !== 0) return false;
        host.vector = 0x41;
        core.setIntr(true);
        return true;
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
    ]);
    // vol. 2 HLT: with IF = 1 and nothing pending, the core stops with 'hlt' before the wake-up.
    expect(r.stops[0]).toBe('hlt');
    expect(r.host.intAcks).toBe(2);
  });
});
