// The gdb stub's protocol (src/node/gdb-packets.ts, gdb-stub.ts) against a bare core running a
// small loop in flat 32-bit mode: framing, checksums and acks; registers read and written in
// gdb's i386 order; memory through the page tables (E14 where nothing is mapped); `s` runs
// exactly one instruction, also off a breakpoint; Z0 uses the core's breakpoints; malformed
// commands get E replies and unknown ones the empty reply.
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machine/machine.js';
import { encodePacket, PacketDecoder } from '../../src/node/gdb-packets.js';
import { GdbSession, parseGdbAddress } from '../../src/node/gdb-stub.js';
import { parseRunArgs } from '../../src/node/run-options.js';
import { bareCore, enterFlat32 } from '../cpu/flat32.js';
import { CORE, haveBuildOutputs } from '../images.js';

const ready = haveBuildOutputs('the gdb stub tests (build/core.wasm)', [CORE]);
const CODE = 0x1000;
// loop: inc eax; add ebx, eax; dec ecx; jnz loop; hlt
const LOOP = [0x40, 0x01, 0xc3, 0x49, 0x75, 0xfa, 0xf4];

const text = (b: Uint8Array) => String.fromCharCode(...b);

describe('packet framing', () => {
  it('decodes packets, acks, Ctrl-C; a bad checksum or a packet cut by another is reported', () => {
    const d = new PacketDecoder();
    expect(d.feed(encodePacket('qSupported:xyz'))).toEqual([{ kind: 'packet', payload: 'qSupported:xyz' }]);
    expect(d.feed(new TextEncoder().encode('+-\x03junk'))).toEqual([{ kind: 'ack' }, { kind: 'nack' }, { kind: 'interrupt' }]);
    expect(d.feed(new TextEncoder().encode('$g#00'))[0]).toMatchObject({ kind: 'bad-packet' });
    expect(d.feed(new TextEncoder().encode('$g#zz'))[0]).toMatchObject({ kind: 'bad-packet' });
    expect(d.feed(new TextEncoder().encode('$m1$g#67')).map((x) => x.kind)).toEqual(['bad-packet', 'packet']);
    // '#', '$', '}' and '*' travel escaped and come back whole.
    const odd = 'a#b$c}d*e';
    expect(text(encodePacket(odd))).not.toContain('#b');
    expect(d.feed(encodePacket(odd))).toEqual([{ kind: 'packet', payload: odd }]);
    expect(text(encodePacket('OK'))).toBe('$OK#9a');
  });

  it('parses --gdb addresses', () => {
    expect(parseGdbAddress('tcp::1234')).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(parseGdbAddress('tcp:0.0.0.0:99')).toEqual({ host: '0.0.0.0', port: 99 });
    expect(parseGdbAddress('tcp:1234')).toBeNull();
    expect(parseGdbAddress('tcp::70000')).toBeNull();
    expect(parseGdbAddress('udp::1')).toBeNull();
    expect(parseRunArgs(['--gdb', 'tcp::1234', '--gdb-wait'])).toMatchObject({ gdb: { host: '127.0.0.1', port: 1234 }, gdbWait: true });
    expect(() => parseRunArgs(['--gdb', '1234'])).toThrow('--gdb 1234 is not tcp:[HOST]:PORT (as tcp::1234)');
    expect(() => parseRunArgs(['--gdb-wait'])).toThrow(/--gdb-wait waits for gdb/);
  });
});

describe.skipIf(!ready)('gdb session against a core', () => {
  async function setup() {
    const core = await bareCore(1 << 20);
    core.ram.set(LOOP, CODE);
    enterFlat32(core, CODE, { esp: 0x8000, ecx: 100 });
    const machine = { core, onBreakpoint: null } as unknown as Machine;
    const sent: string[] = [];
    const vm = { machine, stops: 0, conts: 0, stop() { this.stops++; }, cont() { this.conts++; }, quit() {} };
    const session = new GdbSession(vm, (b) => sent.push(text(b)), () => {});
    const ask = (payload: string): string => {
      sent.length = 0;
      session.input(encodePacket(payload));
      expect(sent[0]).toBe('+');
      const reply = sent.slice(1).join('');
      const m = /^\$(.*)#[0-9a-f]{2}$/s.exec(reply);
      return m === null ? `<${reply}>` : m[1]!;
    };
    return { core, vm, session, sent, ask };
  }

  it('registers, memory, single steps and breakpoints', async () => {
    const { core, vm, session, sent, ask } = await setup();
    expect(vm.stops).toBe(1); // stopped on connection
    expect(ask('?')).toBe('S05');
    expect(ask('qSupported:multiprocess+')).toMatch(/PacketSize=4000/);
    const xml = ask('qXfer:features:read:target.xml:0,3fff');
    expect(xml).toMatch(/^l<\?xml/);
    expect(xml).toContain('org.gnu.gdb.i386.core');
    // g: eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs, little-endian.
    const g = ask('g');
    expect(g.length).toBe(16 * 8);
    expect(g.slice(8, 16)).toBe('64000000'); // ecx = 100
    expect(g.slice(32, 40)).toBe('00800000'); // esp
    expect(g.slice(64, 72)).toBe('00100000'); // eip
    expect(g.slice(80, 88)).toBe('08000000'); // cs
    expect(ask('p8')).toBe('00100000');
    // The x87: ST(i) is physical register (TOP + i) mod 8 (SDM vol. 1, 8.1.2); with TOP = 6, st0 is
    // R6 and st1 is R7, each as its 10 bytes (significand, then sign and exponent), little-endian.
    const dv = new DataView(core.memory.buffer);
    const reg = (i: number, significand: bigint, exponent: number): void => {
      const at = core.addr('OFF_FPU_REGS') + i * 16;
      dv.setBigUint64(at, significand, true);
      dv.setUint16(at + 8, exponent, true);
    };
    reg(6, 0x8000000000000000n, 0x3fff); // 1.0
    reg(7, 0xc90fdaa22168c235n, 0x4000); // pi
    core.setU32('OFF_FPU_FSW', 6 << 11);
    core.setU32('OFF_FPU_FCW', 0x037f);
    expect(ask('p10')).toBe('0000000000000080ff3f'); // st0
    expect(ask('p11')).toBe('35c26821a2da0fc90040'); // st1
    expect(ask('p18')).toBe('7f030000'); // fctrl
    expect(ask('p19')).toBe('00300000'); // fstat: TOP = 6
    expect(ask('P0=78563412')).toBe('OK');
    expect(core.reg('eax')).toBe(0x12345678);
    expect(ask('Pa=10000000')).toBe('E02'); // cs cannot be loaded from here
    expect(ask('P0=zz')).toBe('E01');
    // G with the same segments writes the rest.
    expect(ask(`G${'00000000'.repeat(1)}${g.slice(8)}`)).toBe('OK');
    expect(core.reg('eax')).toBe(0);
    // Memory: paging is off here, linear = physical; beyond RAM is E14.
    expect(ask('m1000,7')).toBe('4001c34975faf4');
    expect(ask('M2000,2:abcd')).toBe('OK');
    expect([core.ram[0x2000], core.ram[0x2001]]).toEqual([0xab, 0xcd]);
    expect(ask('mffff0000,4')).toBe('E14');
    expect(ask('M2000,3:abcd')).toBe('E01');
    expect(ask('mzz,4')).toBe('E01');
    // s: exactly one instruction.
    const before = core.instructions;
    expect(ask('s')).toBe('S05');
    expect(core.instructions - before).toBe(1);
    expect(core.eip).toBe(CODE + 1);
    expect(core.reg('eax')).toBe(1);
    // Z0 on the dec; c runs (no reply until the stop), and the core stops there.
    expect(ask('Z0,1003,1')).toBe('OK');
    // A write watchpoint goes to the core (test/guest/gdb.test.ts sees one stop); a length of 0 is refused.
    expect(ask('Z2,2000,4')).toBe('OK');
    expect(ask('Z2,2000,0')).toBe('E01');
    expect(ask('z2,2000,4')).toBe('OK');
    expect(ask('c')).toBe('<>');
    expect(vm.conts).toBe(1);
    expect(core.run(1000)).toBe('break');
    expect(core.eip).toBe(CODE + 3);
    // The run loop tells the machine, which tells the session: the stop reply goes out.
    sent.length = 0;
    (vm.machine.onBreakpoint as unknown as () => void)();
    expect(sent.join('')).toBe(text(encodePacket('S05')));
    // s off the breakpoint runs the dec.
    const ecx = core.reg('ecx');
    expect(ask('s')).toBe('S05');
    expect(core.reg('ecx')).toBe(ecx - 1);
    expect(core.eip).toBe(CODE + 4);
    expect(ask('z0,1003,1')).toBe('OK');
    expect(core.run(100_000)).toBe('hlt');
    // Ctrl-C while the guest runs: it stops, and gdb hears S05; while stopped, Ctrl-C says nothing.
    expect(ask('c')).toBe('<>');
    const stops = vm.stops;
    sent.length = 0;
    session.input(new Uint8Array([0x03]));
    expect(sent.join('')).toBe(text(encodePacket('S05')));
    expect(vm.stops).toBe(stops + 1);
    sent.length = 0;
    session.input(new Uint8Array([0x03]));
    expect(sent).toEqual([]);
    // Unknown and malformed commands.
    expect(ask('vMustReplyEmpty')).toBe('');
    expect(ask('Zq')).toBe('E01');
    // A packet with a bad checksum is answered '-'; a '-' from gdb resends the last reply.
    sent.length = 0;
    session.input(new TextEncoder().encode('$g#00'));
    expect(sent).toEqual(['-']);
    ask('p8');
    const last = sent[1];
    sent.length = 0;
    session.input(new TextEncoder().encode('-'));
    expect(sent).toEqual([last]);
  });
});
