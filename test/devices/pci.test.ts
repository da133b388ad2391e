import { describe, expect, it } from 'vitest';
import { PciBus, PciFunction } from '../../src/devices/pci';
import { I440fx } from '../../src/devices/i440fx';
import { Piix3 } from '../../src/devices/piix3';

function setup() {
  const pam: [number, number][] = [];
  const routes: [number, number | null][] = [];
  const resets: boolean[] = [];
  const host = new I440fx((n, v) => pam.push([n, v]));
  const isa = new Piix3((p, irq) => routes.push([p, irq]), (hard) => resets.push(hard));
  const bus = new PciBus(isa.resetControl);
  bus.register(0, 0, host);
  bus.register(1, 0, isa);
  const addr = (dev: number, fn: number, reg: number) => bus.write(0, 4, (0x80000000 | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0);
  /** Config read the way Linux's pci_conf1_read does it: address dword, then data at 0xCFC + (reg & 3). */
  const cfgRead = (dev: number, fn: number, reg: number, size: 1 | 2 | 4) => { addr(dev, fn, reg); return bus.read(4 + (reg & 3), size); };
  const cfgWrite = (dev: number, fn: number, reg: number, size: 1 | 2 | 4, v: number) => { addr(dev, fn, reg); bus.write(4 + (reg & 3), size, v); };
  return { bus, host, isa, pam, routes, resets, cfgRead, cfgWrite };
}

describe('PCI configuration mechanism #1', () => {
  it('reads the i440FX and PIIX3 IDs, class codes and header types', () => {
    const { cfgRead } = setup();
    expect(cfgRead(0, 0, 0, 4)).toBe(0x12378086);
    expect(cfgRead(0, 0, 0, 2)).toBe(0x8086);
    expect(cfgRead(0, 0, 2, 2)).toBe(0x1237);
    expect(cfgRead(0, 0, 1, 1)).toBe(0x80);
    expect(cfgRead(0, 0, 8, 4) >>> 8).toBe(0x060000);
    expect(cfgRead(1, 0, 0, 4)).toBe(0x70008086);
    expect(cfgRead(1, 0, 0x0a, 2)).toBe(0x0601);
    expect(cfgRead(1, 0, 0x0e, 1)).toBe(0x80);
    expect(cfgRead(1, 0, 0x60, 4)).toBe(0x80808080);
  });

  it('absent devices and functions, other buses and a clear enable bit read all ones', () => {
    const { bus, cfgRead } = setup();
    expect(cfgRead(2, 0, 0, 4)).toBe(0xffffffff);
    expect(cfgRead(0, 1, 0, 2)).toBe(0xffff);
    expect(cfgRead(31, 7, 0xfc, 1)).toBe(0xff);
    bus.write(0, 4, 0x80010000);                        // bus 1
    expect(bus.read(4, 4)).toBe(0xffffffff);
    bus.write(0, 4, 0x00000000);                        // enable clear
    expect(bus.read(4, 2)).toBe(0xffff);
    bus.write(0, 4, 0xfffffffff >>> 0);
    expect(bus.read(0, 4)).toBe(0x80fffffc);            // reserved bits read zero
  });

  it('PAM writes reach the Machine; read-only ID bits stay', () => {
    const { pam, cfgRead, cfgWrite } = setup();
    cfgWrite(0, 0, 0x59, 1, 0x30);                      // BIOS area reads+writes to RAM
    cfgWrite(0, 0, 0x5a, 2, 0x1111);                    // PAM1,2: read-only RAM
    expect(pam).toEqual([[0, 0x30], [1, 0x11], [2, 0x11]]);
    expect(cfgRead(0, 0, 0x58, 4)).toBe(0x11113000);
    expect(cfgRead(0, 0, 0x59, 4)).toBe(0xff111130);    // past 0xCFF the bus floats high
    cfgWrite(0, 0, 0x59, 1, 0xff);
    expect(cfgRead(0, 0, 0x59, 1)).toBe(0x30);          // PAM0 has only bits 5:4
    cfgWrite(0, 0, 0, 4, 0);
    expect(cfgRead(0, 0, 0, 4)).toBe(0x12378086);
  });

  it('PIRQ route registers report routing changes', () => {
    const { isa, routes, cfgRead, cfgWrite } = setup();
    cfgWrite(1, 0, 0x60, 4, 0x0b0a0b0a);                // SeaBIOS-style: A,C -> 10/11 ...
    expect(routes).toEqual([[0, 10], [1, 11], [2, 10], [3, 11]]);
    expect(isa.pirqRoute(1)).toBe(11);
    cfgWrite(1, 0, 0x61, 1, 0x80);
    expect(routes.at(-1)).toEqual([1, null]);
    cfgWrite(1, 0, 0x62, 1, 0x02);                      // IRQ2 is reserved: no route
    expect(routes.at(-1)).toEqual([2, null]);
    expect(cfgRead(1, 0, 0x62, 1)).toBe(0x02);
  });

  it('0xCF9 reset control: 0x02 then 0x06 is a hard reset (Linux reboot=pci)', () => {
    const { bus, resets } = setup();
    bus.write(1, 1, 0x02);
    expect(resets).toEqual([]);
    bus.write(1, 1, 0x06);
    expect(resets).toEqual([true]);
    expect(bus.read(1, 1)).toBe(0x02);
    bus.write(1, 1, 0x04);
    expect(resets).toEqual([true, false]);
  });

  it('BARs size and map as a guest probes them', () => {
    const maps: (number | null)[] = [];
    class Dev extends PciFunction {
      constructor() {
        super('dev', { vendorId: 0x1af4, deviceId: 0x1000, classCode: 0x020000, interruptPin: 1 });
        this.defineBar(0, { size: 32, io: true, onMap: (b) => maps.push(b) });
        this.defineBar(1, { size: 4096, io: false });
        this.captureResetState();
      }
    }
    const { bus, cfgRead, cfgWrite } = setup();
    bus.register(3, 0, new Dev());
    cfgWrite(3, 0, 0x10, 4, 0xffffffff);
    expect(cfgRead(3, 0, 0x10, 4)).toBe(0xffffffe1);
    cfgWrite(3, 0, 0x14, 4, 0xffffffff);
    expect(cfgRead(3, 0, 0x14, 4)).toBe(0xfffff000);
    cfgWrite(3, 0, 0x10, 4, 0xc040);
    expect(maps).toEqual([]);
    cfgWrite(3, 0, 0x04, 2, 0x0001);
    expect(maps).toEqual([0xc040]);
    cfgWrite(3, 0, 0x04, 2, 0x0000);
    expect(maps).toEqual([0xc040, null]);
    expect(cfgRead(3, 0, 0x3d, 1)).toBe(1);
    // Status bits are write-one-to-clear, never set by the guest.
    cfgWrite(3, 0, 0x06, 2, 0xffff);
    expect(cfgRead(3, 0, 0x06, 2)).toBe(0);
  });

  it('survives guest garbage', () => {
    const { bus } = setup();
    for (let i = 0; i < 20000; i++) {
      const v = Math.imul(i, 0x9e3779b1) >>> 0;
      const size = ([1, 2, 4] as const)[i % 3];
      const mask = size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
      if (i % 4 === 0) bus.write(0, 4, (v | 0x80000000) & 0x8000fffc);
      else if (i % 4 === 1) bus.write(i % 9, size, (v & mask) >>> 0);
      else {
        const r = bus.read(i % 9, size);
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(mask);
      }
    }
    expect(bus.state.guestErrors).toBeGreaterThan(0);
  });

  it('INTx#: Status bit 3 follows the request, Command bit 10 masks the pin, shared lines are ORed (PCI 2.3 6.2.2-6.2.3)', () => {
    const lines: [number, boolean][] = [];
    const bus = new PciBus(null, (device, pin) => (device - 1 + pin - 1) & 3, (pirq, level) => lines.push([pirq, level]));
    const id = { vendorId: 0x1234, deviceId: 0x0001, classCode: 0xff0000, interruptPin: 1 };
    const a = new PciFunction('card-a', id);
    const b = new PciFunction('card-b', id);
    const quiet = new PciFunction('no-pin', { ...id, interruptPin: 0 });
    bus.register(3, 0, a); // INTA# of slot 3 -> PIRQC
    bus.register(7, 0, b); // INTA# of slot 7 -> PIRQC as well
    bus.register(4, 0, quiet);
    const status = (dev: number) => { bus.write(0, 4, (0x80000000 | (dev << 11) | 0x04) >>> 0); return bus.read(6, 2); };
    const command = (dev: number, v: number) => { bus.write(0, 4, (0x80000000 | (dev << 11) | 0x04) >>> 0); bus.write(4, 2, v); };
    expect(bus.interruptSources()).toEqual([{ device: 3, func: 0, pin: 1, pirq: 2 }, { device: 7, func: 0, pin: 1, pirq: 2 }]);

    a.setIntx(true);
    expect(lines).toEqual([[2, true]]);
    expect(status(3) & 0x08).toBe(0x08);
    command(3, 0x0400); // Interrupt Disable: the pin lets go, the request stays visible
    expect(lines).toEqual([[2, true], [2, false]]);
    expect(status(3) & 0x08).toBe(0x08);
    command(3, 0);
    b.setIntx(true);
    a.setIntx(false); // b still holds the shared line
    expect(lines).toEqual([[2, true], [2, false], [2, true]]);
    b.setIntx(false);
    expect(lines.at(-1)).toEqual([2, false]);
    expect(status(3) & 0x08).toBe(0);
    quiet.setIntx(true); // a function without a pin asserts nothing
    expect(lines).toHaveLength(4);
  });
});

