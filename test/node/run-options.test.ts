// `webx86 run`'s options (src/node/run-options.ts): what each network, balloon and entropy
// option turns into, and the one-line refusals of bad values.
import { describe, expect, it } from 'vitest';
import { CliError, parseRunArgs } from '../../src/node/run-options';

const refuse = (args: string[], pattern: RegExp) => {
  let err: unknown;
  try { parseRunArgs(args); } catch (e) { err = e; }
  expect(err, args.join(' ')).toBeInstanceOf(CliError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).not.toContain('\n');
};

describe('webx86 run options: network cards, balloon, entropy, virtio disks', () => {
  it('reads repeated --net, --mac, --balloon, --rng and --virtio-blk', () => {
    const o = parseRunArgs(['--net', 'user', '--net=hub,name=a', '--net', 'hub,name=a', '--mac', '52:54:00:00:00:05',
      '--balloon', '16', '--rng', 'off', '--virtio-blk', 'a.img', '--virtio-disk', 'b.img', '--memory', '64']);
    expect(o.nics.map((n) => `${n.backend}${n.hub ? `:${n.hub}` : ''}`)).toEqual(['user', 'hub:a', 'hub:a']);
    expect([...o.nics[0]!.mac!]).toEqual([0x52, 0x54, 0, 0, 0, 5]);
    expect(o.nics[1]!.mac).toBeUndefined();
    expect(o.balloonMiB).toBe(16);
    expect(o.rng).toBe(false);
    expect(o.virtioDisks).toEqual(['a.img', 'b.img']);
    const d = parseRunArgs([]);
    expect([d.nics, d.balloonMiB, d.rng]).toEqual([[], undefined, true]);
    expect(parseRunArgs(['--net', 'none']).nics).toEqual([]);
    expect(parseRunArgs(['--rng=on']).rng).toBe(true);
  });

  it('refuses bad values in one line', () => {
    refuse(['--net', 'bogus'], /--net: unknown backend 'bogus'/);
    refuse(['--net', 'none', '--net', 'user'], /--net none means no network card/);
    refuse(['--net', 'user', '--net', 'user', '--net', 'user', '--net', 'user', '--net', 'user'], /at most 4 network cards/);
    refuse(['--mac', '52:54:00:00:00:01'], /--mac needs a network card/);
    refuse(['--net', 'user', '--mac', '52:54:00:00:00:01', '--mac', '52:54:00:00:00:02'], /--mac: given twice/);
    refuse(['--net', 'user', '--mac', 'ff:ff:ff:ff:ff:ff'], /--mac ff:ff:ff:ff:ff:ff is a multicast address/);
    refuse(['--balloon', '-1'], /--balloon wants a whole number of MiB, not '-1'/);
    refuse(['--balloon', 'lots'], /--balloon wants a whole number of MiB/);
    refuse(['--balloon', '128'], /--balloon 128 leaves the guest no memory \(it has --memory 128 MiB\)/);
    refuse(['--memory', '64', '--balloon', '100'], /--balloon 100 leaves the guest no memory/);
    refuse(['--rng', 'maybe'], /--rng maybe: expected 'on' or 'off'/);
    refuse(['--rng'], /option --rng needs a value/);
    refuse(Array.from({ length: 5 }, () => ['--virtio-blk', 'x.img']).flat(), /--virtio-blk: at most 4 virtio disks/);
    // The core counts a block's runs in 22 bits (asm-core/cpu/blocks.ts RUN_COUNT).
    expect(parseRunArgs(['--jit-threshold', '4194303']).jitThreshold).toBe(4194303);
    refuse(['--jit-threshold', '4194304'], /--jit-threshold wants a whole number of runs from 1 to 4194303, not '4194304'/);
    refuse(['--jit-threshold', '0'], /--jit-threshold wants a whole number of runs from 1 to 4194303/);
  });

  it('--loadvm takes the images and the network from the options, and refuses the machine\'s settings', () => {
    const o = parseRunArgs(['--loadvm', 'a.wx86snap', '--kernel', 'k', '--initrd', 'i', '--net', 'user', '--stats']);
    expect([o.loadvm, o.kernel, o.initrd, o.nics.length]).toEqual(['a.wx86snap', 'k', 'i', 1]);
    refuse(['--loadvm', 'a', '--memory', '64'], /^--memory does not go with --loadvm: the snapshot brings the machine's settings .*leave it out$/);
    refuse(['--deterministic', '--loadvm', 'a'], /^--deterministic does not go with --loadvm/);
    refuse(['--loadvm', 'a', '--no-apic'], /^--no-apic does not go with --loadvm/);
    refuse(['--loadvm', 'a', '--append', 'quiet'], /^--append does not go with --loadvm/);
    // The disks' images are the restorer's to give (checked against the snapshot's when it loads).
    const withDisks = parseRunArgs(['--loadvm', 'a', '--disk', 'd.img', '--virtio-blk', 'v.img', '--cdrom', 'c.iso']);
    expect([withDisks.disks, withDisks.virtioDisks, withDisks.cdrom]).toEqual([['d.img'], ['v.img'], 'c.iso']);
    refuse(['--loadvm', 'a', '--net', 'user', '--mac', '52:54:00:00:00:01'], /^--mac does not go with --loadvm/);
    refuse(['--loadvm', 'a', '--net', 'user,mac=52:54:00:00:00:01'], /mac= does not go with --loadvm/);
    refuse(['--loadvm'], /option --loadvm needs a value/);
  });

  it('--incoming takes tcp:[HOST:]PORT and the images, disks and network, and refuses the machine\'s settings', () => {
    const o = parseRunArgs(['--incoming', 'tcp:4444', '--initrd', 'i', '--disk', 'd.img', '--net', 'user']);
    expect([o.incoming, o.initrd, o.disks, o.nics.length]).toEqual(['tcp:4444', 'i', ['d.img'], 1]);
    expect(parseRunArgs(['--incoming=tcp:0.0.0.0:4444']).incoming).toBe('tcp:0.0.0.0:4444');
    refuse(['--incoming', '4444'], /^--incoming 4444 is not tcp:\[HOST:\]PORT$/);
    refuse(['--incoming', 'tcp:host:99999'], /^--incoming tcp:host:99999 is not tcp:\[HOST:\]PORT$/);
    refuse(['--incoming', 'tcp:1', '--memory', '64'], /^--memory does not go with --incoming: the source brings the machine's settings .*leave it out$/);
    refuse(['--incoming', 'tcp:1', '--append', 'quiet'], /^--append does not go with --incoming/);
    refuse(['--incoming', 'tcp:1', '--loadvm', 'a'], /^--incoming does not go with --loadvm: the guest comes from the source$/);
    refuse(['--incoming', 'tcp:1', '--net', 'user,mac=52:54:00:00:00:01'], /^--net \.\.\.,mac= does not go with --incoming: the source brings its cards' MACs; leave it out$/);
  });
});
