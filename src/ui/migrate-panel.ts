// Live migration from the page: Migrate… opens a small panel where the running VM is sent, while
// it runs, to another tab of this site that waits under a name (opened with ?incoming=NAME). The
// worker does the work (src/worker/worker-migrate.ts); this shows each pre-copy round (pages sent,
// pages the guest dirtied meanwhile), then the downtime, or the failure in one line while the VM
// runs on. In the waiting tab the same panel shows the rounds as they arrive, and says whether the
// VM arrived running or paused (as it was in the sending tab). When the other tab took the VM's
// state but never confirmed that it runs it, this tab's VM is held paused, and the panel says so.
import type { RoundReport } from '../migration/messages.js';
import type { ArrivalSummary, MigrationSummary, UNCONFIRMED as Unconfirmed } from '../worker/worker-migrate.js';

/** The name of the worker's error for an unconfirmed migration (a type-only import keeps the worker's code out of the page). */
const UNCONFIRMED: typeof Unconfirmed = 'MigrationUnconfirmed';

export interface MigrateActions {
  /** Send the running VM to the tab waiting as `name`; `onRound` hears each round. */
  send(name: string, onRound: (r: RoundReport) => void): Promise<MigrationSummary>;
  /** The VM is gone from this tab (it runs in the other one now). */
  moved(summary: MigrationSummary, name: string): void;
  /**
   * The VM's state went to the other tab, which never confirmed that it runs it: this tab's VM
   * is paused, not gone (`message` says so in words).
   */
  held(message: string): void;
  /** Wait for a VM sent to `name` and run it here; `onRound` hears each round as it arrives. */
  receive(name: string, onRound: (r: RoundReport) => void): Promise<ArrivalSummary>;
  /** A VM arrived and runs here, or waits paused for Resume. */
  arrived(info: ArrivalSummary): Promise<void>;
  /** A failure the page shows beside the panel's note (one line). */
  onError(message: string): void;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

const NAME = /^[\w.-]{1,64}$/;

/** One round as the panel lists it. */
export function roundLine(r: RoundReport): string {
  return `round ${r.round}: ${r.pages} pages sent (${r.zeroPages} zero), ${r.dirtied} dirtied meanwhile, `
    + `${(r.bytes / 1048576).toFixed(1)} MiB in ${r.ms.toFixed(0)} ms`;
}

/** What the waiting tab's panel says once the VM is here. */
export function arrivalNote(info: ArrivalSummary): string {
  const unconfirmed = info.confirmed ? '' : ' The other tab may not have heard that it is here: it keeps its copy paused.';
  return info.paused
    ? `The VM arrived paused, as it was in the other tab: ${info.text}. Resume runs it.${unconfirmed}`
    : `The VM arrived and runs here: ${info.text}.${unconfirmed}`;
}

export class MigratePanel {
  private readonly panel = byId<HTMLElement>('migrate');
  private readonly toggle = byId<HTMLButtonElement>('btn-migrate');
  private readonly name = byId<HTMLInputElement>('migrate-name');
  private readonly sendButton = byId<HTMLButtonElement>('btn-migrate-send');
  private readonly note = byId<HTMLElement>('migrate-note');
  private readonly rounds = byId<HTMLOListElement>('migrate-rounds');
  private running = false;
  private working = false;

  constructor(private readonly actions: MigrateActions) {
    this.toggle.addEventListener('click', () => this.show(this.panel.hidden));
    this.sendButton.addEventListener('click', () => void this.send());
    this.name.addEventListener('keydown', (e) => { if (e.key === 'Enter') void this.send(); });
    this.enable();
  }

  setRunning(running: boolean): void {
    this.running = running;
    this.enable();
  }

  show(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
  }

  /** ?incoming=NAME: wait for a VM sent to `name`, listing the rounds as they come, then run it here. */
  async receive(name: string): Promise<void> {
    this.show(true);
    this.clearRounds();
    this.name.value = name;
    this.note.textContent = `Waiting for a VM sent to "${name}" (Migrate… in the other tab).`;
    try {
      const info = await this.actions.receive(name, (r) => {
        this.note.textContent = 'Receiving a VM…';
        this.addRound(r);
      });
      this.note.textContent = arrivalNote(info);
      await this.actions.arrived(info);
    } catch (e) {
      const message = String((e as Error)?.message ?? e).split('\n')[0]!;
      this.note.textContent = message;
      this.actions.onError(message);
    }
  }

  private async send(): Promise<void> {
    if (this.working || !this.running) return;
    const name = this.name.value.trim();
    if (!NAME.test(name)) {
      this.note.textContent = 'A name is 1 to 64 letters, digits, dots, dashes or underscores.';
      return;
    }
    this.working = true;
    this.enable();
    this.clearRounds();
    this.note.textContent = `Sending the VM to the tab waiting as "${name}"…`;
    try {
      const summary = await this.actions.send(name, (r) => this.addRound(r));
      this.note.textContent = `The VM moved to the tab waiting as "${name}": downtime ${summary.downtimeMs.toFixed(0)} ms, `
        + `${summary.rounds.length} rounds in ${(summary.totalMs / 1000).toFixed(2)} s.`;
      this.actions.moved(summary, name);
    } catch (e) {
      const message = String((e as Error)?.message ?? e).split('\n')[0]!;
      this.note.textContent = message;
      if ((e as Error)?.name === UNCONFIRMED) this.actions.held(message);
    } finally {
      this.working = false;
      this.enable();
    }
  }

  private addRound(r: RoundReport): void {
    const li = document.createElement('li');
    li.textContent = roundLine(r);
    this.rounds.append(li);
  }

  private clearRounds(): void {
    this.rounds.replaceChildren();
  }

  private enable(): void {
    this.sendButton.disabled = !this.running || this.working;
  }
}
