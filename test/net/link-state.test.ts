// The links' part in snapshots and migrations (src/net/link.ts): a backend's saved state passes
// through the wrappers a card's link may have (a capture tap, a migration target's gate), each
// card gets back what its own backend saved, and a gate drops what arrives before it opens.
import { describe, expect, it } from 'vitest';
import { GatedLink, restoreLinks, saveLinks, type NetLink } from '../../src/net/link';
import { PcapTap } from '../../src/net/pcap';

/** A backend that keeps a word as its state and remembers what it was given back. */
class StatefulBackend implements NetLink {
  onFrame: ((frame: Uint8Array) => void) | null = null;
  sent: Uint8Array[] = [];
  given: unknown = undefined;
  closed = false;
  constructor(private readonly word: string) {}
  send(frame: Uint8Array): void { this.sent.push(frame); }
  close(): void { this.closed = true; }
  saveState(): unknown { return { word: this.word }; }
  restored(saved: unknown): string | null { this.given = saved; return saved === null ? null : `got ${(saved as { word: string }).word}`; }
}

/** A backend that only carries frames (a hub port, a switch's connection). */
function plainLink(): NetLink {
  return { send: () => {}, onFrame: null, close: () => {} };
}

const frame = (n: number) => new Uint8Array(60).fill(n);

describe('network links across a restore', () => {
  it('saves each card\'s backend state through taps and gates, and gives each card back its own', () => {
    const a = new StatefulBackend('eth0');
    const b = new StatefulBackend('eth2');
    const links = [new PcapTap(a), plainLink(), new GatedLink(new PcapTap(b))];
    const saved = saveLinks(links);
    expect(saved).toEqual([{ word: 'eth0' }, null, { word: 'eth2' }]);

    const a2 = new StatefulBackend('x');
    const b2 = new StatefulBackend('y');
    expect(restoreLinks([new PcapTap(a2), plainLink(), new GatedLink(b2)], saved)).toEqual(['eth0: got eth0', 'eth2: got eth2']);
    expect(a2.given).toEqual({ word: 'eth0' });
    expect(b2.given).toEqual({ word: 'eth2' });
    // One card: its line without a card's name; nothing saved (an older snapshot): null for each.
    const c = new StatefulBackend('z');
    expect(restoreLinks([c], [{ word: 'w' }])).toEqual(['got w']);
    expect(restoreLinks([c], undefined)).toEqual([]);
    expect(c.given).toBeNull();
  });

  it('a gate drops frames that arrive before it opens, passes them after, and sends and closes through', () => {
    const inner = new StatefulBackend('g');
    const gate = new GatedLink(inner);
    const got: number[] = [];
    gate.onFrame = (f) => got.push(f[0]!);
    inner.onFrame!(frame(1));
    inner.onFrame!(frame(2));
    gate.send(frame(9));
    expect(inner.sent.map((f) => f[0])).toEqual([9]);
    gate.open();
    inner.onFrame!(frame(3));
    expect(got).toEqual([3]);
    gate.close();
    expect(inner.closed).toBe(true);
    expect(inner.onFrame).toBeNull();
  });
});
