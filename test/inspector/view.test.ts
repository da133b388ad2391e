// The inspector's small helpers: addresses as the user types them (hex, as the panel shows
// them), and rates from two cumulative counts.
import { describe, expect, it } from 'vitest';
import { parseAddress, rate, shortRate } from '../../src/inspector/view';

describe('the inspector\'s helpers', () => {
  it('takes hex addresses with or without 0x, and refuses anything else', () => {
    expect(parseAddress('c1000000')).toBe(0xc1000000);
    expect(parseAddress(' 0xC1921543 ')).toBe(0xc1921543);
    expect(parseAddress('ffffffff')).toBe(0xffffffff);
    expect(parseAddress('1_0000')).toBe(0x10000);
    expect(parseAddress('100000000')).toBeNull(); // more than 32 bits
    expect(parseAddress('')).toBeNull();
    expect(parseAddress('$eip')).toBeNull();
    expect(parseAddress('12g4')).toBeNull();
  });

  it('makes rates per second from cumulative counts, never negative', () => {
    expect(rate(1500, 500, 1000)).toBe(1000);
    expect(rate(30, 10, 200)).toBe(100);
    expect(rate(10, undefined, 100)).toBe(0); // no earlier sample
    expect(rate(10, 20, 100)).toBe(0); // a window remapped: its count started again
    expect(rate(10, 5, 0)).toBe(0);
    expect([0, 0.04, 3.44, 12.4, 4321, 45_678, 12_345_678].map(shortRate)).toEqual(['0', '0', '3.4', '12', '4321', '45.7k', '12.3M']);
  });
});
