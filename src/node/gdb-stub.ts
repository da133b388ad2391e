// A gdb remote stub for `webx86 run --gdb tcp:[HOST]:PORT`, as QEMU's -gdb: gdb (`target remote
// :PORT`) reads and writes the registers and memory, sets breakpoints, single-steps and
// continues. The guest is stopped while gdb looks at it: on connection, at a breakpoint, after
// a step, and on Ctrl-C; `c` runs it again. Addresses are linear (gdb's view of Linux's flat
// kernel segments) and memory goes through the guest's page tables.
//
// One gdb at a time. What gdb sends is checked: a broken packet is answered `-`, a malformed
// command `E..`, an unknown one with the empty reply (gdb's "not supported").

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Machine } from '../machine/machine.js';
import type { RegName, SegName } from '../cpu/core.js';
import { readLinear, writeLinear } from '../machine/inspect.js';
import {
  encodePacket, fromHex, le32Hex, MAX_PACKET, PacketDecoder, parseHexNumber, parseLe32Hex, toHex,
} from './gdb-packets.js';

/** What the stub needs of the VM: the machine, and the session's pause (the monitor's stop/cont). */
export interface GdbVm {
  readonly machine: Machine;
  stop(): void;
  cont(): void;
  /** End the session (gdb's `k`). */
  quit(): void;
}

/** gdb's i386 register numbers: the general registers in encoding order, eip, eflags, the segment registers. */
const GENERAL: readonly RegName[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const SEGMENTS: readonly SegName[] = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const REG_EIP = 8;
const REG_EFLAGS = 9;
const REG_FIRST_SEGMENT = 10;
const CORE_REGS = 16;
/** The x87 registers the core feature also names: st0-7 (10 bytes), then 8 control words of 4 (read only here). */
const X87_SIZES = [10, 10, 10, 10, 10, 10, 10, 10, 4, 4, 4, 4, 4, 4, 4, 4];
/** fctrl fstat ftag fiseg fioff foseg fooff fop: the state block fields behind them (asm-core/cpu/state.ts). */
const X87_CONTROL = ['OFF_FPU_FCW', 'OFF_FPU_FSW', 'OFF_FPU_FTW', 'OFF_FPU_FCS', 'OFF_FPU_FIP', 'OFF_FPU_FDS', 'OFF_FPU_FDP', 'OFF_FPU_FOP'];
/** gdb's watchpoint packets Z2 Z3 Z4, and the word its stop reply names each by. */
const WATCH_KINDS = { 2: 'write', 3: 'read', 4: 'access' } as const;
const WATCH_REPLY = { write: 'watch', read: 'rwatch', access: 'awatch' } as const;

/** Stop reply: SIGTRAP. */
const STOPPED = 'S05';
const E_BAD_ARGS = 'E01';
const E_REGISTER = 'E02';
const E_NO_SLOT = 'E28';
/** EFAULT: gdb shows "Cannot access memory at address ...". */
const E_MEMORY = 'E14';

const TARGET_XML = `<?xml version="1.0"?>
<target version="1.0">
<architecture>i386</architecture>
<feature name="org.gnu.gdb.i386.core">
${GENERAL.map((r) => `<reg name="${r}" bitsize="32" type="${r === 'esp' || r === 'ebp' ? 'data_ptr' : 'int32'}"/>`).join('\n')}
<reg name="eip" bitsize="32" type="code_ptr"/>
<reg name="eflags" bitsize="32" type="int32"/>
${SEGMENTS.map((s) => `<reg name="${s}" bitsize="32" type="int32"/>`).join('\n')}
${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `<reg name="st${i}" bitsize="80" type="i387_ext"/>`).join('\n')}
${['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n) => `<reg name="${n}" bitsize="32" type="int" group="float"/>`).join('\n')}
</feature>
</target>
`;

/** One connected gdb: decodes its packets and answers them against the VM. */
export class GdbSession {
  private readonly decoder = new PacketDecoder();
  /** Breakpoint address -> the core's slot. */
  private readonly breakpoints = new Map<number, number>();
  /** Watchpoints by gdb's "type,addr,length": the core's slot and what it catches. */
  private readonly watchpoints = new Map<string, { slot: number; kind: 'write' | 'read' | 'access' }>();
  /** The guest runs at gdb's request (`c`): a stop is reported when it stops. */
  private running = false;
  private lastSent: Uint8Array | null = null;
  /** A step at a halted CPU: the breakpoint slot that catches the return from the interrupt that wakes it. */
  private haltStepSlot: number | null = null;

  constructor(private readonly vm: GdbVm, private readonly send: (bytes: Uint8Array) => void,
              private readonly close: () => void) {
    // gdb finds the target stopped, as QEMU leaves it when gdb connects.
    vm.stop();
    vm.machine.onBreakpoint = () => this.stopped();
  }

  /** Bytes from gdb. */
  input(data: Uint8Array): void {
    for (const item of this.decoder.feed(data)) {
      switch (item.kind) {
        case 'packet':
          this.send(new Uint8Array([0x2b])); // '+'
          this.reply(this.handle(item.payload));
          break;
        case 'bad-packet': this.send(new Uint8Array([0x2d])); break; // '-': send it again
        case 'nack': if (this.lastSent !== null) this.send(this.lastSent); break;
        case 'ack': break;
        case 'interrupt':
          if (this.running) this.stopped();
          break;
      }
    }
  }

  /** The connection ended: breakpoints go, the guest runs on (as after a detach). */
  disconnected(): void {
    this.endHaltStep();
    this.clearBreakpoints();
    if (this.vm.machine.onBreakpoint !== null) this.vm.machine.onBreakpoint = null;
    this.running = false;
    this.vm.cont();
  }

  /** The guest stopped (breakpoint, watchpoint, Ctrl-C) while gdb waited for it. */
  private stopped(): void {
    this.vm.stop();
    this.endHaltStep();
    if (!this.running) return;
    this.running = false;
    const hit = this.vm.machine.core.watchHit();
    const watch = hit === null ? undefined : [...this.watchpoints.values()].find((w) => w.slot === hit.slot);
    // A watchpoint's stop names the data address, as a debug register's trap would.
    this.reply(hit === null || watch === undefined ? STOPPED : `T05${WATCH_REPLY[watch.kind]}:${hit.address.toString(16)};`);
  }

  private reply(payload: string | null): void {
    if (payload === null) return; // `c`: the answer comes when the guest stops
    this.lastSent = encodePacket(payload);
    this.send(this.lastSent);
  }

  /** One command; null when the answer comes later. */
  private handle(p: string): string | null {
    const core = this.vm.machine.core;
    switch (p[0]) {
      case '?': return STOPPED;
      case 'g': return this.readRegisters();
      case 'G': return this.writeRegisters(p.slice(1));
      case 'p': {
        const n = parseHexNumber(p.slice(1));
        return n === null ? E_BAD_ARGS : this.readRegister(n);
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]{8})$/.exec(p);
        const v = m === null ? null : parseLe32Hex(m[2]!);
        if (m === null || v === null) return E_BAD_ARGS;
        return this.writeRegister(parseInt(m[1]!, 16), v) ? 'OK' : E_REGISTER;
      }
      case 'm': {
        const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
        const addr = m === null ? null : parseHexNumber(m[1]!);
        const len = m === null ? null : parseHexNumber(m[2]!);
        if (addr === null || len === null || len > MAX_PACKET / 2) return E_BAD_ARGS;
        const bytes = readLinear(core, addr, len);
        return bytes === null ? E_MEMORY : toHex(bytes);
      }
      case 'M': {
        const m = /^M([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(p);
        const addr = m === null ? null : parseHexNumber(m[1]!);
        const len = m === null ? null : parseHexNumber(m[2]!);
        const bytes = m === null ? null : fromHex(m[3]!);
        if (addr === null || len === null || bytes === null || bytes.length !== len) return E_BAD_ARGS;
        return writeLinear(core, addr, bytes) ? 'OK' : E_MEMORY;
      }
      case 'c':
      case 's': {
        if (p.length > 1) {
          const at = parseHexNumber(p.slice(1));
          if (at === null) return E_BAD_ARGS;
          core.eip = at;
          core.refreshState();
        }
        // Past a breakpoint at the current instruction once (gdb steps off it, or continues).
        core.resumeFromBreak(core.eip);
        if (p[0] === 's') {
          if (core.halted) return this.stepAtHalt();
          core.run(1);
          return STOPPED;
        }
        this.running = true;
        this.vm.cont();
        return null;
      }
      case 'Z': case 'z': return this.breakpoint(p);
      case 'H': return 'OK';
      case 'T': return 'OK';
      case 'D':
        this.reply('OK');
        this.disconnected();
        this.close();
        return null;
      case 'k':
        this.disconnected();
        this.close();
        this.vm.quit();
        return null;
      case 'q': return this.query(p);
      default: return ''; // not supported: vCont, X, and the rest
    }
  }

  private query(p: string): string {
    if (p.startsWith('qSupported')) return `PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+`;
    if (p === 'qAttached') return '1'; // gdb detaches (not kills) when it quits
    if (p === 'qC') return 'QC1';
    if (p === 'qfThreadInfo') return 'm1';
    if (p === 'qsThreadInfo') return 'l';
    const xfer = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (xfer !== null) {
      if (xfer[1] !== 'target.xml') return 'E00';
      const offset = parseHexNumber(xfer[2]!);
      const length = parseHexNumber(xfer[3]!);
      if (offset === null || length === null) return E_BAD_ARGS;
      const chunk = TARGET_XML.slice(offset, offset + Math.min(length, MAX_PACKET - 8));
      return (offset + chunk.length >= TARGET_XML.length ? 'l' : 'm') + chunk;
    }
    return '';
  }

  private readRegisters(): string {
    let out = '';
    for (let n = 0; n < CORE_REGS; n++) out += this.readRegister(n);
    return out;
  }

  private readRegister(n: number): string {
    const core = this.vm.machine.core;
    if (n < 8) return le32Hex(core.reg(GENERAL[n]!));
    if (n === REG_EIP) return le32Hex(core.eip);
    if (n === REG_EFLAGS) return le32Hex(core.getEflags());
    if (n < CORE_REGS) return le32Hex(core.seg(SEGMENTS[n - REG_FIRST_SEGMENT]!).selector);
    const x = n - CORE_REGS;
    if (x >= X87_SIZES.length) return E_BAD_ARGS;
    if (x >= 8) return le32Hex(core.u32(X87_CONTROL[x - 8]!) & (x === 8 || x === 9 || x === 10 || x === 15 ? 0xffff : 0xffffffff));
    // st(i) is physical register (TOP + i) mod 8, stored as the significand (8 bytes) then
    // sign and exponent (2): the 10 bytes of the 80-bit format, little-endian, as gdb wants them.
    const top = (core.u32('OFF_FPU_FSW') >>> 11) & 7;
    const at = core.addr('OFF_FPU_REGS') + ((top + x) & 7) * 16;
    return Buffer.from(new Uint8Array(core.memory.buffer, at, 10)).toString('hex');
  }

  /** Set register `n`; a segment register only keeps its value (loading a selector needs the descriptor tables). */
  private writeRegister(n: number, v: number): boolean {
    const core = this.vm.machine.core;
    if (n < 8) core.setReg(GENERAL[n]!, v);
    else if (n === REG_EIP) core.eip = v;
    else if (n === REG_EFLAGS) core.setEflags(v);
    else if (n < CORE_REGS) return core.seg(SEGMENTS[n - REG_FIRST_SEGMENT]!).selector === v;
    else return n < CORE_REGS + X87_SIZES.length; // x87: not written, and gdb need not be told
    core.refreshState();
    return true;
  }

  private writeRegisters(hex: string): string {
    if (hex.length < CORE_REGS * 8) return E_BAD_ARGS;
    const values: number[] = [];
    for (let n = 0; n < CORE_REGS; n++) {
      const v = parseLe32Hex(hex.slice(n * 8, n * 8 + 8));
      if (v === null) return E_BAD_ARGS;
      values.push(v);
    }
    const core = this.vm.machine.core;
    for (let n = REG_FIRST_SEGMENT; n < CORE_REGS; n++) {
      if (core.seg(SEGMENTS[n - REG_FIRST_SEGMENT]!).selector !== values[n]) return E_REGISTER;
    }
    for (let n = 0; n < REG_FIRST_SEGMENT; n++) this.writeRegister(n, values[n]!);
    return 'OK';
  }

  /** Z0/Z1 set, z0/z1 clear a breakpoint; Z2/Z3/Z4 a watchpoint (the core's, asm-core/cpu/host-watch.ts). */
  private breakpoint(p: string): string {
    const m = /^([Zz])([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    const addr = m === null ? null : parseHexNumber(m[3]!);
    if (m === null || addr === null) return E_BAD_ARGS;
    if (m[2] !== '0' && m[2] !== '1') return this.watchpoint(m[1] === 'Z', Number(m[2]) as 2 | 3 | 4, addr, parseHexNumber(m[4]!));
    const core = this.vm.machine.core;
    const slot = this.breakpoints.get(addr);
    if (m[1] === 'z') {
      if (slot !== undefined) { core.clearBreakpoint(slot); this.breakpoints.delete(addr); }
      return 'OK';
    }
    if (slot !== undefined) return 'OK';
    const used = new Set(this.breakpoints.values());
    if (this.haltStepSlot !== null) used.add(this.haltStepSlot);
    for (let s = 0; s < core.breakpointSlots; s++) {
      if (used.has(s)) continue;
      core.setBreakpoint(s, addr);
      this.breakpoints.set(addr, s);
      return 'OK';
    }
    return E_NO_SLOT;
  }

  private watchpoint(set: boolean, type: 2 | 3 | 4, addr: number, length: number | null): string {
    if (length === null || length < 1 || length > 4096) return E_BAD_ARGS;
    const core = this.vm.machine.core;
    const key = `${type},${addr},${length}`;
    const had = this.watchpoints.get(key);
    if (!set) {
      if (had !== undefined) { core.clearWatchpoint(had.slot); this.watchpoints.delete(key); }
      return 'OK';
    }
    if (had !== undefined) return 'OK';
    const used = new Set([...this.watchpoints.values()].map((w) => w.slot));
    for (let s = 0; s < core.watchpointSlots; s++) {
      if (used.has(s)) continue;
      const kind = WATCH_KINDS[type];
      core.setWatchpoint(s, addr, length, kind);
      this.watchpoints.set(key, { slot: s, kind });
      return 'OK';
    }
    return E_NO_SLOT; // gdb then says it could not insert the hardware watchpoint
  }

  /**
   * A step at HLT: the CPU waits for an interrupt, so the guest runs (its timers with it) until
   * the interrupt's handler returns to the instruction after the HLT, and stops before it: gdb
   * sees the same EIP, and the next step goes on from there. No reply until then.
   */
  private stepAtHalt(): string | null {
    const core = this.vm.machine.core;
    const used = new Set(this.breakpoints.values());
    let slot = -1;
    for (let s = 0; s < core.breakpointSlots && slot < 0; s++) if (!used.has(s)) slot = s;
    if (slot < 0) return E_NO_SLOT;
    core.setBreakpoint(slot, core.eip);
    this.haltStepSlot = slot;
    this.running = true;
    this.vm.cont();
    return null;
  }

  private endHaltStep(): void {
    if (this.haltStepSlot === null) return;
    this.vm.machine.core.clearBreakpoint(this.haltStepSlot);
    this.haltStepSlot = null;
  }

  private clearBreakpoints(): void {
    for (const slot of this.breakpoints.values()) this.vm.machine.core.clearBreakpoint(slot);
    this.breakpoints.clear();
    for (const w of this.watchpoints.values()) this.vm.machine.core.clearWatchpoint(w.slot);
    this.watchpoints.clear();
  }
}

/** Where --gdb listens. */
export interface GdbAddress { host: string; port: number }

/** `tcp::PORT` or `tcp:HOST:PORT` (HOST defaults to 127.0.0.1); null if it is neither. */
export function parseGdbAddress(spec: string): GdbAddress | null {
  const m = /^tcp:(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(spec);
  if (m === null || Number(m[2]) > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

/** The listening stub: one gdb at a time; a second connection is refused while one is attached. */
export class GdbServer {
  private session: GdbSession | null = null;

  private constructor(private readonly server: Server) {}

  /** Listen at `addr`; rejects with a one-line Error when the port cannot be had. */
  static async listen(vm: GdbVm, addr: GdbAddress): Promise<GdbServer> {
    const server = createServer();
    const stub = new GdbServer(server);
    server.on('connection', (socket) => stub.accept(vm, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(new Error(e.code === 'EADDRINUSE' ? `--gdb: port ${addr.port} on ${addr.host} is in use`
          : `--gdb: cannot listen on ${addr.host}:${addr.port}: ${e.code ?? e.message}`));
      });
      server.listen(addr.port, addr.host, () => resolve());
    });
    return stub;
  }

  /** Where it listens (the port the system chose for port 0). */
  get address(): GdbAddress {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  private accept(vm: GdbVm, socket: Socket): void {
    if (this.session !== null) { socket.destroy(); return; }
    socket.setNoDelay(true);
    let ended = false;
    const session = new GdbSession(vm, (bytes) => { if (!socket.destroyed) socket.write(bytes); }, () => socket.end());
    this.session = session;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.session = null;
      session.disconnected();
    };
    socket.on('data', (d: Buffer) => session.input(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    socket.on('close', end);
    socket.on('error', end);
  }

  close(): void {
    this.server.close();
  }
}
