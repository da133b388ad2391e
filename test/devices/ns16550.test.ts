import { describe, expect, it } from 'vitest';
import { Ns16550 } from '../../src/devices/ns16550';
import { FakeClock, TestIrq } from './fake-clock';

function setup() {
  const clock = new FakeClock(0);
  const irq = new TestIrq();
  const out: number[] = [];
  const uart = new Ns16550(clock, irq, (b) => out.push(b));
  const rd = (o: number) => uart.read(o, 1);
  const wr = (o: number, v: number) => uart.write(o, 1, v);
  return { clock, irq, out, uart, rd, wr };
}

describe('16550A UART', () => {
  it('passes the probes of Linux autoconfig(): IER bits, scratch, loopback MSR, FIFO type', () => {
    const { rd, wr } = setup();
    wr(1, 0); expect(rd(1) & 0x0f).toBe(0);
    wr(1, 0x0f); expect(rd(1) & 0x0f).toBe(0x0f);
    wr(1, 0xff); expect(rd(1)).toBe(0x0f);              // IER bits 7:4 do not exist on a 16550A
    wr(1, 0);
    wr(7, 0xa5); expect(rd(7)).toBe(0xa5);
    wr(4, 0x10 | 0x0a);                                 // LOOP | RTS | OUT2
    expect(rd(6) & 0xf0).toBe(0x90);                    // CTS and DCD
    wr(4, 0);
    wr(2, 0x01);                                        // enable FIFOs
    expect(rd(2) & 0xc0).toBe(0xc0);                    // 16550A signature
    wr(2, 0);
    expect(rd(2) & 0xc0).toBe(0);
  });

  it('re-asserts THRE when THRI is enabled again (serial8250_do_startup UART_BUG_THRE test)', () => {
    const { rd, wr } = setup();
    wr(1, 0x02);
    const iir1 = rd(2);
    wr(1, 0);
    wr(1, 0x02);
    const iir = rd(2);
    wr(1, 0);
    expect(iir1 & 1).toBe(0);
    expect(iir & 1).toBe(0);
    expect(iir & 0x0f).toBe(0x02);
  });

  it('THRE interrupt: cleared by reading IIR, back after each THR write; bytes go out', () => {
    const { irq, out, rd, wr } = setup();
    wr(4, 0x08);                                        // OUT2: IRQ to the PIC
    wr(1, 0x02);
    expect(irq.level).toBe(true);
    expect(rd(2) & 0x0f).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(rd(2) & 0x0f).toBe(0x01);
    wr(0, 0x41);
    expect(out).toEqual([0x41]);
    expect(irq.level).toBe(true);
    expect(rd(5) & 0x60).toBe(0x60);
    wr(1, 0);
    expect(irq.level).toBe(false);
  });

  it('no IRQ without OUT2, as on a PC', () => {
    const { irq, wr } = setup();
    wr(1, 0x02);
    expect(irq.level).toBe(false);
    wr(4, 0x08);
    expect(irq.level).toBe(true);
  });

  it('DLAB switches offsets 0/1 to the divisor latch', () => {
    const { out, rd, wr } = setup();
    wr(3, 0x83); wr(0, 0x01); wr(1, 0x00); wr(3, 0x03);
    expect(out).toEqual([]);
    wr(3, 0x80); expect(rd(0)).toBe(1); expect(rd(1)).toBe(0); wr(3, 0x03);
    expect(rd(1)).toBe(0);
  });

  it('RX FIFO trigger levels, then character timeout for the remainder', () => {
    const { clock, irq, uart, rd, wr } = setup();
    wr(3, 0x83); wr(0, 0x01); wr(1, 0x00); wr(3, 0x03); // 115200 8N1
    wr(4, 0x08); wr(1, 0x01);
    wr(2, 0x81 | 0x06);                                 // FIFO on, clear, trigger 8
    uart.receive(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
    expect(irq.level).toBe(false);
    expect(rd(2) & 0x0f).toBe(0x01);
    uart.receive(new Uint8Array([8]));
    expect(irq.level).toBe(true);
    expect(rd(2) & 0x0f).toBe(0x04);
    const got = [rd(0), rd(0), rd(0)];
    expect(got).toEqual([1, 2, 3]);
    expect(irq.level).toBe(false);                      // 5 left, below trigger
    clock.advance(3 * 87_000);                          // < 4 characters at 115200 8N1
    expect(irq.level).toBe(false);
    clock.advance(2 * 87_000);
    expect(irq.level).toBe(true);
    expect(rd(2) & 0x0f).toBe(0x0c);
    const rest: number[] = [];
    while (rd(5) & 1) rest.push(rd(0));
    expect(rest).toEqual([4, 5, 6, 7, 8]);
    expect(rd(2) & 0x0f).toBe(0x01);
  });

  it('trigger level 14, and the host queue loses nothing when the guest is slow', () => {
    const { uart, rd, wr } = setup();
    wr(2, 0xc1);
    wr(1, 0x01);
    const data = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    uart.receive(data);
    expect(uart.pendingInput).toBe(1000 - 16);
    expect(rd(2) & 0x0f).toBe(0x04);
    const got: number[] = [];
    while (rd(5) & 1) got.push(rd(0));
    expect(got).toEqual([...data]);
    expect(rd(5) & 0x02).toBe(0);                       // no overrun
  });

  it('interrupt priority: line status over RX data over THRE over modem status', () => {
    const { rd, wr } = setup();
    wr(2, 0x01);
    wr(1, 0x0f);
    wr(4, 0x10 | 0x02);                                 // loopback, RTS: DSR and DCD drop
    for (let i = 0; i < 17; i++) wr(0, 0x30 + i);       // the 17th byte overruns the FIFO
    expect(rd(2) & 0x0f).toBe(0x06);
    expect(rd(5) & 0x03).toBe(0x03);                    // OE and DR, cleared by this read
    expect(rd(2) & 0x0f).toBe(0x04);
    while (rd(5) & 1) rd(0);
    expect(rd(2) & 0x0f).toBe(0x02);                    // THRE (and reading clears it)
    expect(rd(2) & 0x0f).toBe(0x00);                    // modem status
    expect(rd(6)).toBe(0x10 | 0x0a);                    // CTS=RTS; DDSR, DDCD
    expect(rd(2) & 0x0f).toBe(0x01);
  });

  it('loopback returns transmitted bytes and does not send them out', () => {
    const { out, rd, wr } = setup();
    wr(4, 0x10);
    wr(0, 0x5a);
    expect(out).toEqual([]);
    expect(rd(5) & 1).toBe(1);
    expect(rd(0)).toBe(0x5a);
  });

  it('survives guest garbage', () => {
    const { clock, uart } = setup();
    for (let i = 0; i < 5000; i++) {
      uart.write(i % 10, ((i % 3) + 1) as 1 | 2 | 4, (i * 89) & 0xff);
      uart.read((i * 3) % 11, 1);
      if (i % 100 === 0) uart.receive(new Uint8Array([i & 0xff, 1, 2]));
      clock.advance(1000);
    }
    expect(uart.state.guestErrors).toBeGreaterThan(0);
  });
});
