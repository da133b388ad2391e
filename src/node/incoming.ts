// `webx86 run --incoming tcp:[HOST:]PORT`: wait for one live migration (src/migration/target.ts),
// build the machine the source describes from this process's images (found as for a boot, and
// checked against the source's by SHA-256; the disks as for --loadvm), take its pages and state,
// then run it on this terminal: paused if the source's guest was (the monitor's cont runs it).
// A failed migration prints one line and exits with status 2; the source runs on. The network
// cards' links are opened while the machine is built, on the same segment as the source's (a
// switch) or on a user network of this process; frames that reach them before the guest's state
// is loaded belong to the source's guest and are dropped (a lost frame, which TCP resends),
// rather than piling up for the whole migration and reaching the guest late.
import type { Machine, MachineOptions } from '../machine/machine.js';
import type { SnapshotConfig } from '../snapshot/config.js';
import type { RunOptions } from './run-options.js';
import { GatedLink, restoreLinks } from '../net/link.js';

/** What cli.ts lends: building a machine's parts as a boot or a --loadvm does, and the session. */
export interface IncomingDeps {
  /** The options for Machine.create that build `config`'s machine from this process's files. */
  optionsFor(config: SnapshotConfig): Promise<MachineOptions>;
  create(options: MachineOptions): Promise<Machine>;
  /** Run the machine on this terminal; `paused`: it starts paused (the source's guest was). */
  session(machine: Machine, options: MachineOptions, paused: boolean): Promise<number>;
  error(message: string): Error;
}

export async function runIncoming(opts: RunOptions, uri: string, deps: IncomingDeps): Promise<number> {
  const { listenTcp, parseTcpAddress } = await import('../migration/tcp.js');
  const { migrateIn } = await import('../migration/target.js');
  const { describeRound } = await import('../migration/source.js');
  const say = (line: string) => process.stderr.write(`webx86: ${line}\n`);
  let listener;
  try {
    listener = await listenTcp(parseTcpAddress(uri, true));
  } catch (e) {
    throw deps.error(`--incoming: ${(e as Error).message}`);
  }
  say(`waiting for a migration on ${uri.replace(/:\d+$/, '')}:${listener.port}`);
  const link = await listener.accept();
  listener.close();
  let options: MachineOptions | undefined;
  let gates: GatedLink[] = [];
  try {
    const result = await migrateIn(link, {
      build: async (config) => {
        const built = await deps.optionsFor(config);
        gates = (built.nics ?? []).map((n) => new GatedLink(n.link));
        options = { ...built, nics: (built.nics ?? []).map((n, i) => ({ ...n, link: gates[i]! })) };
        return deps.create(options);
      },
      onHello: (config) => say(`incoming migration: a ${config.memoryMiB} MiB machine, ${config.clock} clock`),
      onRound: (r) => say(`incoming ${describeRound(r)}`),
    }, Infinity);
    say(`migration complete: ${result.pages} pages in ${result.rounds.length + 1} rounds, state loaded in ${result.loadMs.toFixed(0)} ms; the guest ${result.running ? 'runs' : 'is paused (as it was at the source: the monitor\'s cont runs it)'} here`);
    if (!result.confirmed) say('the source may not have heard that the guest runs here (sending DONE failed): it keeps its copy stopped');
    for (const line of restoreLinks(gates, result.net)) say(line);
    for (const g of gates) g.open();
    return await deps.session(result.machine, options!, !result.running);
  } catch (e) {
    for (const g of gates) g.close();
    const message = String((e as Error)?.message ?? e).split('\n')[0]!;
    throw deps.error(`--incoming ${uri}: ${message}`);
  }
}
