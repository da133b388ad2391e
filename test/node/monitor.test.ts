// The monitor (Ctrl-A c): QEMU's commands against a fake machine, its line editing on a raw
// terminal, and the mux that routes typed bytes between the guest's console and the monitor.
import { describe, expect, it } from 'vitest';
import { describeBalloonStats } from '../../src/node/balloon-stats';
import { ConsoleMux } from '../../src/node/console-mux';
import { LineEditor, Monitor, MonitorConsole, type MonitorVm } from '../../src/node/monitor';

/** A machine that records what the monitor asked of it. */
function fakeVm() {
  const calls: string[] = [];
  const vm: Omit<MonitorVm, 'status'> & { status: MonitorVm['status']; calls: string[]; balloonTarget: number } = {
    calls,
    status: 'running',
    ramMiB: 128,
    balloonTarget: 0,
    stop() { calls.push('stop'); this.status = 'paused'; },
    cont() { calls.push('cont'); this.status = 'running'; },
    reset() { calls.push('reset'); },
    quit() { calls.push('quit'); },
    async savevm(path) { calls.push(`savevm ${path}`); if (path.includes('disk')) throw new Error('cannot save this machine: it has disks\n  at somewhere'); return `saved ${path}`; },
    async loadvm(path) { calls.push(`loadvm ${path}`); if (path === 'bad') throw new Error('snapshot is corrupt: checksum'); return `loaded ${path}`; },
    async balloon() { return { targetPages: 16 * 256, actualPages: 12 * 256, stats: { free_memory: 64 * 1048576 } }; },
    setBalloonTarget(mib) { calls.push(`balloon target ${mib}`); this.balloonTarget = mib; },
  };
  return vm;
}

describe('monitor commands', () => {
  it('info status says running or paused as QEMU does; stop and cont change it', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    expect(await m.execute('info status')).toEqual(['VM status: running']);
    expect(await m.execute('stop')).toEqual([]);
    expect(await m.execute('  info   status ')).toEqual(['VM status: paused']);
    expect(await m.execute('c')).toEqual([]);
    expect(await m.execute('info status')).toEqual(['VM status: running']);
    expect(vm.calls).toEqual(['stop', 'cont']);
  });

  it('savevm and loadvm take the rest of the line as the file, and print what happened', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    expect(await m.execute('savevm /tmp/my snap.wx86snap')).toEqual(['saved /tmp/my snap.wx86snap']);
    expect(await m.execute('loadvm x.wx86snap')).toEqual(['loaded x.wx86snap']);
    expect(vm.calls).toEqual(['savevm /tmp/my snap.wx86snap', 'loadvm x.wx86snap']);
  });

  it('a failing command prints one line and the monitor goes on', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    expect(await m.execute('savevm with-disk')).toEqual(['cannot save this machine: it has disks']);
    expect(await m.execute('loadvm bad')).toEqual(['snapshot is corrupt: checksum']);
    expect(await m.execute('info status')).toEqual(['VM status: running']);
  });

  it('unknown commands and bad arguments are one line each, and do nothing', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    expect(await m.execute('frobnicate')).toEqual(["unknown command: 'frobnicate' (try 'help')"]);
    expect(await m.execute('savevm')).toEqual(['savevm: needs FILE']);
    expect(await m.execute('loadvm   ')).toEqual(['loadvm: needs FILE']);
    expect(await m.execute('stop now')).toEqual(['stop: takes no argument']);
    expect(await m.execute('info')).toEqual(['info: say what: status, balloon, migrate, registers, tlb, mem, pic, irq, pci, mtree']);
    expect(await m.execute('info frobs')).toEqual(["info: 'frobs' is not known here (status, balloon, migrate, registers, tlb, mem, pic, irq, pci, mtree)"]);
    expect(await m.execute('info migrate')).toEqual(['no migration has run']);
    expect(await m.execute('migrate')).toEqual(['migrate: needs URI']);
    expect(await m.execute('balloon lots')).toEqual(["balloon wants a whole number, not 'lots'"]);
    expect(await m.execute('balloon 0')).toEqual(["balloon 0: the guest's RAM can be 1..128 MiB"]);
    expect(await m.execute('balloon 129')).toEqual(["balloon 129: the guest's RAM can be 1..128 MiB"]);
    expect(await m.execute('')).toEqual([]);
    expect(vm.calls).toEqual([]);
  });

  it('system_reset and quit reach the machine', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    await m.execute('system_reset');
    await m.execute('q');
    await m.execute('quit');
    expect(vm.calls).toEqual(['reset', 'quit', 'quit']);
  });

  it('balloon MIB is the guest\'s memory, as in QEMU: the balloon takes the rest', async () => {
    const vm = fakeVm();
    const m = new Monitor(vm, describeBalloonStats);
    expect(await m.execute('balloon 100')).toEqual([]);
    expect(vm.balloonTarget).toBe(28);
    expect(await m.execute('balloon 128')).toEqual([]);
    expect(vm.balloonTarget).toBe(0);
  });

  it('info balloon prints QEMU\'s actual= (RAM outside the balloon) and the driver\'s statistics', async () => {
    const m = new Monitor(fakeVm(), describeBalloonStats);
    expect(await m.execute('info balloon')).toEqual([
      'balloon: actual=116',
      'balloon target 16.0 MiB, holding 12.0 MiB; guest: free memory 64.0 MiB',
    ]);
  });

  it('help lists every command with its argument', async () => {
    const help = (await new Monitor(fakeVm(), describeBalloonStats).execute('help')).join('\n');
    for (const c of ['savevm FILE', 'loadvm FILE', 'info status|balloon', 'stop', 'cont|c', 'system_reset', 'quit|q', 'balloon MIB', 'help']) {
      expect(help).toContain(c);
    }
  });
});

describe('monitor line editing', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);

  it('Backspace (DEL or BS) erases, Enter (CR, LF, CR LF) ends the line', () => {
    const e = new LineEditor();
    const r = e.feed(bytes('infx\x7fo status\r'));
    expect(r.lines).toEqual(['info status']);
    expect(r.echo).toBe('infx\b \bo status\r\n');
    expect(e.feed(bytes('stop\r\ncont\n')).lines).toEqual(['stop', 'cont']);
    expect(e.feed(bytes('\x7f\x08')).echo).toBe(''); // nothing to erase
    expect(e.feed(bytes('ab\x08c\n')).lines).toEqual(['ac']);
  });

  it('Ctrl-U clears the line; arrow keys and other control bytes are not typed in', () => {
    const e = new LineEditor();
    expect(e.feed(bytes('junk\x15')).echo).toBe('junk' + '\b \b'.repeat(4));
    expect(e.feed(bytes('st\x1b[Aop\x1bOB\x07\r')).lines).toEqual(['stop']);
  });

  it('a line split over several reads is one command', () => {
    const e = new LineEditor();
    expect(e.feed(bytes('info st')).lines).toEqual([]);
    expect(e.feed(bytes('atus\r')).lines).toEqual(['info status']);
    expect(e.feed(bytes('\n')).lines).toEqual([]); // the LF of a CR LF split across reads
  });
});

describe('the console and the monitor on one terminal', () => {
  it('Ctrl-A c switches: bytes before it go to the guest, after it to the monitor, and back', async () => {
    const vm = fakeVm();
    let shown = '';
    const monitor = new MonitorConsole(new Monitor(vm, describeBalloonStats), { write: (t: string) => { shown += t; } });
    const guest: string[] = [];
    const mux = new ConsoleMux({
      quit: () => vm.quit(), help: () => {}, balloon: () => {},
      monitor: (on) => (on ? monitor.enter() : monitor.leave()),
    }, (b) => guest.push(new TextDecoder().decode(b)), (b) => monitor.input(b));
    mux.input(new TextEncoder().encode('ls\r\x01cinfo status\r\x01cpwd\r'));
    await monitor.idle();
    expect(guest).toEqual(['ls\r', 'pwd\r']);
    expect(shown).toBe("\r\nwebx86 monitor - type 'help' for more information\r\n(webx86) info status\r\n\r\nVM status: running\r\n");
    // Once back in the monitor: the prompt only, and commands run one after the other.
    shown = '';
    mux.input(new TextEncoder().encode('\x01Csavevm a\rloadvm bad\r'));
    await monitor.idle();
    expect(shown).toBe('\r\n(webx86) savevm a\r\nloadvm bad\r\nsaved a\r\n(webx86) snapshot is corrupt: checksum\r\n(webx86) ');
    expect(vm.calls).toEqual(['savevm a', 'loadvm bad']);
    mux.input(Uint8Array.of(0x01, 0x78)); // Ctrl-A x quits from the monitor too
    expect(vm.calls.at(-1)).toBe('quit');
    shown = '';
    mux.input(new TextEncoder().encode('quit\r')); // and so does quit, without a prompt after it
    await monitor.idle();
    expect(shown).toBe('quit\r\n');
    expect(vm.calls.at(-1)).toBe('quit');
  });
});
