// The CLI's device options under the guest's own Linux: two `--net` cards are eth0 and eth1
// (the first with --mac's address, the second with the next default one), `--rng off` leaves no
// virtio-rng function on the PCI bus (Linux's hw_random has no source), and `--balloon 16` makes
// the balloon driver take 16 MiB from MemTotal as soon as it loads; `--stats` then prints the
// statistics that driver reported.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestFiles, haveBuildOutputs, MANIFEST } from '../images.js';
import { marked, markedOutput } from '../shell-markers.js';
import { BOOT_TIMEOUT_MS, runCli } from './session.js';

const haveImages = haveBuildOutputs('the CLI device options guest test (test/guest/cli-devices.test.ts)', guestFiles());

describe.skipIf(!haveImages)('Linux guest: the CLI\'s network, entropy and balloon options', () => {
  it('two --net cards are eth0 and eth1, --rng off has no entropy device, --balloon 16 takes 16 MiB', async () => {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { prompt: string };
    const memTotal = "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2";
    const line = [
      'dmesg -n 1',
      marked('ls /sys/class/net | tr "\\n" " "; echo; cat /sys/class/net/eth0/address /sys/class/net/eth1/address', 'N'),
      // 1af4:1044 is a virtio-rng function (virtio 1.x: 0x1040 + device ID 4).
      marked('cat /sys/bus/pci/devices/*/device | grep -c 0x1044; modprobe virtio-rng; cat /sys/class/misc/hw_random/rng_current', 'R'),
      // MemTotal without the driver (the guest's /init may have loaded it: removing it gives the
      // balloon's pages back), then with it, once it changed (or 10 s went by).
      marked(`rmmod virtio_balloon 2>/dev/null; sleep 1; ${memTotal}; modprobe virtio_pci; modprobe virtio_balloon; a=$(${memTotal}); i=0; while [ "$(${memTotal})" = "$a" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; sleep 1; ${memTotal}`, 'B'),
      // --stats asks the driver for fresh statistics every 5 s: one comes after the inflation.
      'sleep 6',
      'poweroff -f',
    ].join('; ');
    const { status, out, err } = await runCli(
      ['run', '--net', 'hub', '--net', 'hub', '--mac', '52:54:00:00:00:0a', '--rng', 'off', '--balloon', '16', '--stats'], m.prompt, line);
    expect(status, `${out.slice(-2000)}\n${err}`).toBe(0);
    const [nets, eth0, eth1] = markedOutput(out, 'N')!.split('\n');
    expect(nets).toBe('eth0 eth1 lo ');
    expect(eth0).toBe('52:54:00:00:00:0a');
    expect(eth1).toBe('52:54:00:12:34:57');
    expect(markedOutput(out, 'R')).toBe('0\nnone\n');
    const [before, after] = markedOutput(out, 'B')!.trim().split('\n').map(Number);
    expect(before! - after!).toBe(16 * 1024); // kB
    // --stats at exit: the balloon's holding, and what the guest's driver reported.
    expect(err).toMatch(/webx86: balloon target 16\.0 MiB, holding 16\.0 MiB; guest: .*free memory [\d.]+ MiB.*\(the guest's last report\)/);
    const total = Number(/total memory ([\d.]+) MiB/.exec(err)?.[1]) * 1024;
    expect(Math.abs(after! - total), `${total} kB`).toBeLessThanOrEqual(0.1 * 1024);
  }, BOOT_TIMEOUT_MS + 60_000);
});
