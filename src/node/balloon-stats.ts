// The guest's memory as its virtio-balloon driver reports it (virtio 1.1 §5.5.6.3), for the
// terminal: Ctrl-A b asks for fresh statistics and prints them when the driver answers (the
// monitor's `info balloon` prints the last ones), and
// --stats prints the last report at exit (with the balloon as it was then: a guest that powers
// off resets the device on its way out, and the balloon reads empty afterwards).

/** Statistics measured in bytes (the others are counts). */
const BYTE_STATS = new Set(['free_memory', 'total_memory', 'available_memory', 'disk_caches']);

/** One line: the balloon's target and holding, then each statistic the driver sent (the monitor's `info balloon` prints it as is). */
export function describeBalloonStats(stats: Readonly<Record<string, number>>, balloon: { targetPages: number; actualPages: number }): string {
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  const fields = Object.entries(stats).map(([name, v]) => `${name.replace(/_/g, ' ')} ${BYTE_STATS.has(name) ? mib(v) : v}`);
  return `balloon target ${mib(balloon.targetPages * 4096)}, holding ${mib(balloon.actualPages * 4096)}; ` +
    (fields.length > 0 ? `guest: ${fields.join(', ')}` : 'no statistics from the guest (is virtio_balloon loaded?)');
}

/** describeBalloonStats as a line of the terminal's (Ctrl-A b, --stats). */
export function formatBalloonStats(stats: Readonly<Record<string, number>>, balloon: { targetPages: number; actualPages: number }): string {
  return `webx86: ${describeBalloonStats(stats, balloon)}`;
}

/** How long a Ctrl-A b waits for the driver before saying it did not answer. */
const ANSWER_MS = 2000;

type Balloon = { targetPages: number; actualPages: number };

export class BalloonStatsPrinter {
  private asked: ReturnType<typeof setTimeout> | null = null;
  private last: { stats: Readonly<Record<string, number>>; balloon: Balloon } | null = null;
  private balloon: () => Balloon = () => ({ targetPages: 0, actualPages: 0 });
  /** Those waiting in fresh(). */
  private readonly waiting = new Set<(stats: Readonly<Record<string, number>>) => void>();

  constructor(private readonly out: { write(text: string): unknown }) {}

  /** Where the balloon's target and holding come from (the machine, once it exists). */
  attach(balloon: () => Balloon): void {
    this.balloon = balloon;
  }

  /** Ask (through `request`) for fresh statistics; print them when they come, or say they did not. */
  ask(request: () => void, latest: () => Readonly<Record<string, number>>): void {
    if (this.asked !== null) return;
    request();
    this.asked = setTimeout(() => {
      this.asked = null;
      this.out.write(`\r\n${formatBalloonStats(latest(), this.balloon())} [no fresh answer within ${ANSWER_MS / 1000} s: these are the last]\r\n`);
    }, ANSWER_MS);
  }

  /** Fresh statistics (through `request`) when the driver answers in time, else the last ones (`latest`). */
  fresh(request: () => void, latest: () => Readonly<Record<string, number>>): Promise<Readonly<Record<string, number>>> {
    return new Promise((resolve) => {
      const answer = (stats: Readonly<Record<string, number>>): void => {
        clearTimeout(timer);
        this.waiting.delete(answer);
        resolve(stats);
      };
      const timer = setTimeout(() => answer(latest()), ANSWER_MS);
      this.waiting.add(answer);
      request();
    });
  }

  /** The driver sent statistics (MachineHost.onBalloonStats): kept, and printed if asked for. */
  arrived(stats: Readonly<Record<string, number>>): void {
    this.last = { stats, balloon: this.balloon() };
    for (const answer of [...this.waiting]) answer(stats);
    if (this.asked === null) return;
    clearTimeout(this.asked);
    this.asked = null;
    this.out.write(`\r\n${formatBalloonStats(stats, this.last.balloon)}\r\n`);
  }

  /** The last report as one line (for --stats), or null when the driver never sent one. */
  lastReport(): string | null {
    return this.last && `${formatBalloonStats(this.last.stats, this.last.balloon)} (the guest's last report)`;
  }

  /** The session ended: no answer is awaited any more. */
  close(): void {
    if (this.asked !== null) clearTimeout(this.asked);
    this.asked = null;
    const last = this.last?.stats ?? {};
    for (const answer of [...this.waiting]) answer(last);
  }
}
