// The guest's balloon statistics on the terminal: Ctrl-A b asks for them (ConsoleMux), and the
// printer answers with what the driver sends, or says in time that nothing fresh came.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BalloonStatsPrinter, formatBalloonStats } from '../../src/node/balloon-stats';
import { ConsoleMux } from '../../src/node/console-mux';

afterEach(() => { vi.useRealTimers(); });

describe('balloon statistics on the terminal', () => {
  it('Ctrl-A b asks for them; other bytes reach the guest as before', () => {
    const calls: string[] = [];
    const guest: number[] = [];
    const keys = { quit: () => calls.push('quit'), help: () => calls.push('help'), balloon: () => calls.push('balloon'), monitor: () => calls.push('monitor') };
    const mux = new ConsoleMux(keys, (b) => guest.push(...b), () => calls.push('to monitor'));
    mux.input(Uint8Array.of(0x61, 0x01, 0x62, 0x63, 0x01, 0x01, 0x01, 0x42));
    expect(guest).toEqual([0x61, 0x63, 0x01]);
    expect(calls).toEqual(['balloon', 'balloon']);
  });

  it('formats bytes as MiB and counts as they are', () => {
    const line = formatBalloonStats({ swap_in: 3, free_memory: 50 * 1048576, total_memory: 100 * 1048576 + 524288 }, { targetPages: 4096, actualPages: 1024 });
    expect(line).toBe('webx86: balloon target 16.0 MiB, holding 4.0 MiB; guest: swap in 3, free memory 50.0 MiB, total memory 100.5 MiB');
    expect(formatBalloonStats({}, { targetPages: 0, actualPages: 0 })).toMatch(/no statistics from the guest/);
  });

  it('prints the answer once when it comes, and the last numbers when none comes in time', () => {
    vi.useFakeTimers();
    let out = '';
    const p = new BalloonStatsPrinter({ write: (t: string) => { out += t; } });
    p.attach(() => ({ targetPages: 256, actualPages: 256 }));
    let requests = 0;
    expect(p.lastReport()).toBeNull();
    p.arrived({ free_memory: 1048576 }); // unasked (the driver's first report): kept, not printed
    expect(out).toBe('');
    expect(p.lastReport()).toBe('webx86: balloon target 1.0 MiB, holding 1.0 MiB; guest: free memory 1.0 MiB (the guest\'s last report)');
    p.ask(() => requests++, () => ({}));
    p.ask(() => requests++, () => ({})); // a second Ctrl-A b while waiting asks nothing more
    expect(requests).toBe(1);
    p.arrived({ free_memory: 2 * 1048576 });
    expect(out).toBe('\r\nwebx86: balloon target 1.0 MiB, holding 1.0 MiB; guest: free memory 2.0 MiB\r\n');
    vi.advanceTimersByTime(5000);
    expect(out.split('webx86:').length).toBe(2); // the answered request's timer is gone
    out = '';
    p.ask(() => requests++, () => ({ free_memory: 3 * 1048576 }));
    vi.advanceTimersByTime(2500);
    expect(out).toMatch(/free memory 3\.0 MiB \[no fresh answer within 2 s: these are the last\]/);
    expect(requests).toBe(2);
  });

  it('fresh() resolves to the driver\'s answer, or to the last statistics when it does not answer in time', async () => {
    vi.useFakeTimers();
    const p = new BalloonStatsPrinter({ write: () => {} });
    let requests = 0;
    const answered = p.fresh(() => requests++, () => ({ free_memory: 1 }));
    p.arrived({ free_memory: 2 });
    await expect(answered).resolves.toEqual({ free_memory: 2 });
    const silent = p.fresh(() => requests++, () => ({ free_memory: 3 }));
    vi.advanceTimersByTime(2500);
    await expect(silent).resolves.toEqual({ free_memory: 3 });
    expect(requests).toBe(2);
  });
});
