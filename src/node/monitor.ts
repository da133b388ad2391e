// The monitor of `webx86 run`: QEMU's human monitor, reached with Ctrl-A c (console-mux.ts).
// Its commands keep QEMU's names and words (`info status` prints "VM status: running") so that
// hands used to QEMU work here. They act on a MonitorVm, a small interface that the CLI's
// VmRunner implements around the Machine, so that every command is testable without a guest.
//
// The guest keeps running while the monitor is open, unless `stop`ped (as in QEMU).
import type { Machine } from '../machine/machine.js';
import { examine, INFO_SUBJECTS, infoLines } from './monitor-info.js';

/** What the monitor controls. Errors are thrown as Errors with a one-line message. */
export interface MonitorVm {
  /** QEMU's run states as `info status` names them. */
  readonly status: 'running' | 'paused';
  /** Pause the guest (its time stops too). */
  stop(): void;
  cont(): void;
  /** The reset button. */
  reset(): void;
  /** End the session (exit status 0). */
  quit(): void;
  /** Save the machine to FILE; resolves to a line saying what was written. */
  savevm(path: string): Promise<string>;
  /** Restore the machine from FILE; on failure the machine runs on as it was. */
  loadvm(path: string): Promise<string>;
  /** Guest RAM in MiB (the balloon's limit). */
  readonly ramMiB: number;
  /** The balloon (in 4 KiB pages) and its driver's statistics: fresh ones if it answers in time. */
  balloon(): Promise<BalloonInfo>;
  /** Ask the guest's driver to hold `mib` MiB in the balloon. */
  setBalloonTarget(mib: number): void;
  /**
   * Live-migrate the machine to `uri` (tcp:HOST:PORT); `progress` gets a line per round. Resolves
   * to the summary once the target runs the guest (this one then ends); on failure it runs on.
   */
  migrate?(uri: string, progress: (line: string) => void): Promise<string>;
  /** The last migration's outcome, in lines (`info migrate`). */
  migrationInfo?(): string[];
  /** The machine itself, for `info registers` and the other looks inside it (monitor-info.ts). */
  readonly machine?: Machine;
}

export interface BalloonInfo {
  targetPages: number;
  actualPages: number;
  stats: Readonly<Record<string, number>>;
}

type DescribeStats = (stats: Readonly<Record<string, number>>, balloon: { targetPages: number; actualPages: number }) => string;

interface Command {
  /** As typed, then QEMU's short form if it has one. */
  names: string[];
  /** The argument, for help; '' for none. */
  arg: string;
  help: string;
  run(vm: MonitorVm, arg: string): string[] | Promise<string[]>;
}

const PAGES_PER_MIB = 256;

/** The balloon as QEMU's `info balloon` prints it (actual: the guest's RAM outside the balloon, in MiB), then its statistics. */
export function describeBalloon(ramMiB: number, b: BalloonInfo, describeStats: DescribeStats): string[] {
  const actual = ramMiB - Math.floor(b.actualPages / PAGES_PER_MIB);
  return [`balloon: actual=${actual}`, describeStats(b.stats, b)];
}

function wholeNumber(arg: string, what: string): number {
  if (!/^\d+$/.test(arg)) throw new Error(`${what} wants a whole number, not '${arg}'`);
  return Number(arg);
}

export class Monitor {
  private readonly commands: Command[];
  /** `quit` ran: no prompt after it. */
  quitting = false;
  /** Where a long command's lines go while it runs (MonitorConsole sets it). */
  progress: (line: string) => void = () => {};

  /** `describeStats`: one line for the balloon driver's statistics (balloon-stats.ts). */
  constructor(private readonly vm: MonitorVm,
              describeStats: DescribeStats) {
    this.commands = [
      { names: ['help', '?'], arg: '', help: 'show this help', run: () => this.help() },
      { names: ['info'], arg: `status|balloon|migrate|${INFO_SUBJECTS.join('|')}`, help: 'the VM\'s run state, balloon, last migration, CPU, page tables, chips, PCI or memory map', run: async (vm, arg) => {
        if (arg === 'status') return [`VM status: ${vm.status}`];
        if (arg === 'balloon') return describeBalloon(vm.ramMiB, await vm.balloon(), describeStats);
        if (arg === 'migrate') return vm.migrationInfo?.() ?? ['no migration has run'];
        const lines = vm.machine === undefined ? null : infoLines(vm.machine, arg);
        if (lines !== null) return lines;
        const known = `status, balloon, migrate, ${INFO_SUBJECTS.join(', ')}`;
        throw new Error(arg === '' ? `info: say what: ${known}` : `info: '${arg}' is not known here (${known})`);
      } },
      { names: ['x', 'xp'], arg: 'ADDR', help: 'x/NFS ADDR: N units (F: x d u o c, S: b h w g) at a linear (x) or physical (xp) address', run: () => [] },
      { names: ['stop'], arg: '', help: 'pause the guest (its clock stops)', run: (vm) => { vm.stop(); return []; } },
      { names: ['cont', 'c'], arg: '', help: 'resume the guest', run: (vm) => { vm.cont(); return []; } },
      { names: ['system_reset'], arg: '', help: 'reset the machine (the reset button)', run: (vm) => { vm.reset(); return []; } },
      { names: ['savevm'], arg: 'FILE', help: 'save the whole machine to FILE (a .wx86snap)', run: async (vm, arg) => [await vm.savevm(arg)] },
      { names: ['loadvm'], arg: 'FILE', help: 'go back to the machine saved in FILE', run: async (vm, arg) => [await vm.loadvm(arg)] },
      { names: ['migrate'], arg: 'URI', help: 'move the running VM to a webx86 run --incoming at tcp:HOST:PORT', run: async (vm, arg) => {
        if (vm.migrate === undefined) throw new Error('migrate: this VM cannot migrate');
        return [await vm.migrate(arg, (line) => this.progress(line))];
      } },
      { names: ['balloon'], arg: 'MIB', help: 'ask the guest to shrink (or grow) to MIB MiB of RAM; its balloon takes the rest', run: (vm, arg) => {
        const target = wholeNumber(arg, 'balloon');
        const ram = vm.ramMiB;
        if (target < 1 || target > ram) throw new Error(`balloon ${target}: the guest's RAM can be 1..${ram} MiB`);
        vm.setBalloonTarget(ram - target);
        return [];
      } },
      { names: ['quit', 'q'], arg: '', help: 'quit the emulator', run: (vm) => { this.quitting = true; vm.quit(); return []; } },
    ];
  }

  /** Run one typed line; resolves to the lines to print (an error is one of them). */
  async execute(line: string): Promise<string[]> {
    const text = line.trim();
    if (text === '') return [];
    const space = text.search(/\s/);
    const name = space < 0 ? text : text.slice(0, space);
    // The argument is the rest of the line, so that a file name may hold spaces.
    const arg = space < 0 ? '' : text.slice(space).trim();
    const examineCommand = /^(xp?)(\/.*)?$/.exec(name);
    if (examineCommand !== null) {
      if (this.vm.machine === undefined) return [`${name}: no machine to look into`];
      // QEMU takes both x/4xw ADDR and x /4xw ADDR.
      const spaced = examineCommand[2] === undefined ? /^(\/\S*)\s+(.*)$/.exec(arg) : null;
      const [format, address] = spaced !== null ? [spaced[1]!, spaced[2]!] : [examineCommand[2] ?? '', arg];
      if (address === '') return [`${name}: needs ADDR`];
      try { return examine(this.vm.machine, examineCommand[1] === 'xp', format, address); } catch (e) { return [(e as Error).message]; }
    }
    const cmd = this.commands.find((c) => c.names.includes(name));
    if (cmd === undefined) return [`unknown command: '${name}' (try 'help')`];
    if (cmd.arg === '' && arg !== '') return [`${name}: takes no argument`];
    if ((cmd.arg === 'FILE' || cmd.arg === 'MIB' || cmd.arg === 'URI') && arg === '') return [`${name}: needs ${cmd.arg}`];
    try {
      return await cmd.run(this.vm, arg);
    } catch (e) {
      return [String((e as Error)?.message ?? e).split('\n')[0]!.trim() || `${name} failed`];
    }
  }

  private help(): string[] {
    return this.commands.map((c) => {
      const usage = `${c.names.join('|')}${c.arg === '' ? '' : ` ${c.arg}`}`;
      return `${usage.padEnd(24)} -- ${c.help}`;
    });
  }
}

const BS = 0x08;
const DEL = 0x7f;
const CR = 0x0d;
const LF = 0x0a;
const ESC = 0x1b;
const CTRL_U = 0x15;

/**
 * The monitor's line editing on a raw terminal (no line discipline does it for us): printable
 * characters, Backspace (DEL or BS), Ctrl-U to clear the line, Enter (CR, LF or CR LF) to run it.
 * Terminal escape sequences (arrow keys) are skipped rather than typed in.
 */
export class LineEditor {
  private line = '';
  private afterCr = false;
  /** 0: text; 1: after ESC; 2: inside ESC [ ... up to its final byte. */
  private escape = 0;

  /** Take typed bytes; returns what to echo and the lines completed with Enter. */
  feed(bytes: Uint8Array): { echo: string; lines: string[] } {
    let echo = '';
    const lines: string[] = [];
    for (const b of bytes) {
      const afterCr = this.afterCr;
      this.afterCr = false;
      if (this.escape === 1) { this.escape = b === 0x5b /* [ */ || b === 0x4f /* O */ ? 2 : 0; continue; }
      if (this.escape === 2) { if (b >= 0x40 && b <= 0x7e) this.escape = 0; continue; }
      if (b === ESC) this.escape = 1;
      else if (b === CR || b === LF) {
        if (b === LF && afterCr) continue; // CR LF is one Enter
        this.afterCr = b === CR;
        lines.push(this.line);
        this.line = '';
        echo += '\r\n';
      } else if (b === DEL || b === BS) {
        if (this.line.length > 0) { this.line = this.line.slice(0, -1); echo += '\b \b'; }
      } else if (b === CTRL_U) {
        echo += '\b \b'.repeat(this.line.length);
        this.line = '';
      } else if (b >= 0x20 && b < 0x7f) {
        this.line += String.fromCharCode(b);
        echo += String.fromCharCode(b);
      }
    }
    return { echo, lines };
  }
}

export const MONITOR_PROMPT = '(webx86) ';

/**
 * The monitor on the terminal: the prompt, echo, and one command at a time (lines typed while
 * one runs wait their turn, as QEMU's monitor blocks on savevm).
 */
export class MonitorConsole {
  private readonly editor = new LineEditor();
  private greeted = false;
  private active = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly monitor: Monitor, private readonly out: { write(text: string): unknown }) {
    monitor.progress = (line) => { out.write(`${line}\r\n`); };
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Ctrl-A c from the console: show the prompt. */
  enter(): void {
    this.active = true;
    if (!this.greeted) this.out.write('\r\nwebx86 monitor - type \'help\' for more information\r\n');
    else this.out.write('\r\n');
    this.greeted = true;
    this.out.write(MONITOR_PROMPT);
  }

  /** Ctrl-A c from the monitor: back to the guest's console. */
  leave(): void {
    this.active = false;
    this.out.write('\r\n');
  }

  /** Bytes typed while the monitor is shown. */
  input(bytes: Uint8Array): void {
    const { echo, lines } = this.editor.feed(bytes);
    if (echo !== '') this.out.write(echo);
    for (const line of lines) {
      this.queue = this.queue.then(async () => {
        const output = await this.monitor.execute(line);
        for (const l of output) this.out.write(`${l}\r\n`);
        if (this.active && !this.monitor.quitting) this.out.write(MONITOR_PROMPT);
      });
    }
  }

  /** Resolves when every typed command has run (for tests and for a clean exit). */
  idle(): Promise<void> {
    return this.queue;
  }
}
