import { describe, expect, it } from 'vitest';
import { Port92 } from '../../src/devices/port92';
import { DebugConsolePort, PostCodePort } from '../../src/devices/debug-port';

describe('Port 92 (System Control Port A)', () => {
  it('fast A20 on bit 1, reset on a 0->1 edge of bit 0', () => {
    const a20: boolean[] = [];
    let resets = 0;
    const p = new Port92((e) => a20.push(e), () => resets++);
    // The Linux boot code's enable_a20_fast: read, set bit 1, clear bit 0, write.
    p.write(0, 1, (p.read(0, 1) | 0x02) & ~0x01);
    expect(a20).toEqual([true]);
    expect(p.a20).toBe(true);
    expect(p.read(0, 1)).toBe(0x02);
    expect(resets).toBe(0);
    p.write(0, 1, 0x03);
    expect(resets).toBe(1);
    p.write(0, 1, 0x03);                                // no edge, no reset
    expect(resets).toBe(1);
    p.write(0, 1, 0x00);
    expect(a20).toEqual([true, false]);
    p.write(0, 1, 0xfc);                                // reserved bits are not stored
    expect(p.read(0, 1)).toBe(0);
    p.write(3, 1, 1); p.read(9, 4);
    expect(resets).toBe(1);
    expect(p.state.guestErrors).toBe(2);
  });
});

describe('debug ports', () => {
  it('0x80 stores the POST code; 0xE9 prints bytes and reads back 0xE9', () => {
    const codes: number[] = [];
    const post = new PostCodePort((c) => codes.push(c));
    post.write(0, 1, 0x12); post.write(0, 1, 0x34);
    expect(post.read(0, 1)).toBe(0x34);
    expect(codes).toEqual([0x12, 0x34]);
    const out: number[] = [];
    const con = new DebugConsolePort((b) => out.push(b));
    for (const ch of 'ok\n') con.write(0, 1, ch.charCodeAt(0));
    con.write(0, 2, 0x4948);
    expect(String.fromCharCode(...out)).toBe('ok\nHI');
    expect(con.read(0, 1)).toBe(0xe9);
    con.write(5, 1, 0x41);
    expect(out.length).toBe(5);
  });
});
