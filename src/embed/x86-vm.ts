// <x86-vm>: a PC running Linux inside a documentation page.
//
//   <script type="module" src="/webx86.js"></script>
//   <x86-vm src="images/default.json" memory="64" autostart></x86-vm>
//
// Each element hosts its own VM worker (vm-session.ts), the same worker the full page runs, and
// shows the guest's serial console in xterm.js inside its shadow root (shadow-view.ts). What it
// runs comes from its attributes and the manifest `src` names (guest-choice.ts); `snapshot`
// restores a saved machine instead of booting one. A page that is not cross-origin isolated
// (a static host that cannot send COOP/COEP) is isolated through public/coi-sw.js, one reload
// for all the elements on it. An element scrolled out of view pauses its guest, unless it has
// `keep-running`, and resumes it when it comes back.
//
// For the lessons (lessons/*.html): `jit="off"` (the interpreter alone), `rng="off"` (no
// virtio-rng), `virtio-disk=URL` (an image on virtio-blk, beside `disk` on AHCI), and sample(),
// setBalloon(), migrate() and receive() in the script API.
//
// Events (CustomEvents): `state` {state, reason}, `serial` {text}, `ready` {from: 'boot' |
// 'snapshot', ms} once the guest's shell prompt shows (or the machine runs, when the manifest
// names no prompt), `error` {message} (on the element only: it does not bubble). A wrong attribute or an
// image that cannot be had is an `error` event and a message in the element, never an
// exception thrown into the page; the script API's promises reject with the same words.
import { isolatePage, missingPlatform } from '../ui/isolation.js';
import type { ExitReason } from '../machine/types.js';
import { chooseGuest, type GuestChoice } from './guest-choice.js';
import { PromptReady, promptFinder } from './prompt-ready.js';
import { ShadowView, barFor, type ButtonAction } from './shadow-view.js';
import { EMPTY_LINE, commandOutput, markedCommandLine } from './shell-command.js';
import { downloadImages, downloadSnapshot, VmSession, type HeldImages } from './vm-session.js';
import type {
  X86VmMigration, X86VmMigrationRound, X86VmReadyDetail, X86VmSample, X86VmSampleRequest, X86VmState, X86VmStateDetail, X86VmStatus,
} from './vm-types.js';

export type {
  X86VmMigration, X86VmMigrationRound, X86VmReadyDetail, X86VmSample, X86VmSampleRequest, X86VmState, X86VmStateDetail, X86VmStatus,
};

const DEFAULT_WAIT_MS = 30_000;
const DEFAULT_RUN_MS = 60_000;

function words(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

export class X86VmElement extends HTMLElement {
  static readonly observedAttributes: string[] = ['keep-running', 'inspector'];

  private view: ShadowView | null = null;
  private session: VmSession | null = null;
  private stateNow: X86VmState = 'idle';
  private guest: GuestChoice | null = null;
  private starting: Promise<void> | null = null;
  private readonly prompt = new PromptReady();
  /** Paused by pause(): scrolling back into view does not resume it. */
  private pausedByScript = false;
  /** Paused because it was scrolled out of view: resumes when it comes back. */
  private pausedHidden = false;
  private visible = true;
  private observer: IntersectionObserver | null = null;
  private runQueue: Promise<unknown> = Promise.resolve();
  private commands = 0;
  /** Tells this element's run() markers from any other's, and from text a snapshot's guest printed. */
  private readonly markerTag = Math.random().toString(36).slice(2, 8);
  /** Bumped by each start or restore, so a late step of an older one changes nothing. */
  private generation = 0;

  /** Where the VM is; see X86VmState. */
  get state(): X86VmState {
    return this.stateNow;
  }

  /** Whether the guest's shell prompt has shown since the last start, restore or reset. */
  get ready(): boolean {
    return this.prompt.ready;
  }

  /** Whether the inspector panel (src/inspector/) shows beside the terminal: the `inspector` attribute. */
  get inspector(): boolean {
    return this.hasAttribute('inspector');
  }

  connectedCallback(): void {
    this.ensureView();
    if (!this.observer) {
      this.observer = new IntersectionObserver((entries) => {
        const last = entries[entries.length - 1];
        if (last) this.visibilityChanged(last.isIntersecting);
      });
    }
    this.observer.observe(this);
    if (this.hasAttribute('autostart') && this.stateNow === 'idle') this.start().catch(() => {}); // reported as an error event
  }

  disconnectedCallback(): void {
    this.observer?.disconnect();
    // Moved within the page (removed and inserted again at once) is not leaving it.
    setTimeout(() => {
      if (this.isConnected) return;
      this.generation++;
      this.session?.close();
      this.session = null;
      this.view?.unmountInspector();
      this.prompt.fail(new Error('The element left the page.'));
      this.setState('off', 'removed');
    }, 0);
  }

  attributeChangedCallback(name: string): void {
    if (name === 'keep-running') this.visibilityChanged(this.visible);
    if (name === 'inspector') this.showInspector();
  }

  /** The inspector panel while the attribute is there and a machine's worker exists. */
  private showInspector(): void {
    if (!this.view) return;
    if (!this.hasAttribute('inspector') || !this.session) {
      this.view.unmountInspector();
      return;
    }
    this.view.mountInspector(this.session.inspector, (state) => this.inspectorRunState(state))
      .catch((e) => this.fail(`The inspector could not be loaded: ${words(e)}`));
  }

  /** The inspector's Pause, Step, Continue or a breakpoint moved the machine: the element follows, as after pause()/resume(). */
  private inspectorRunState(state: 'running' | 'paused'): void {
    if (state === 'paused' && this.stateNow === 'running') {
      this.pausedByScript = true;
      this.setState('paused', 'inspector');
    } else if (state === 'running' && this.stateNow === 'paused') {
      this.pausedByScript = false;
      this.pausedHidden = false;
      this.setState('running');
    }
  }

  /**
   * Boot the guest (or restore the `snapshot` attribute's machine); resumes a paused one. Resolves
   * once the machine runs; rejects in words (and fires `error`) when it cannot.
   */
  start(): Promise<void> {
    if (this.stateNow === 'paused') return this.resume();
    if (this.stateNow === 'running') return Promise.resolve();
    this.starting ??= this.startMachine().finally(() => { this.starting = null; });
    return this.starting;
  }

  /** Pause the guest (its clock stops too) until start() or resume(). */
  async pause(): Promise<void> {
    const session = this.requireSession('pause');
    this.pausedByScript = true;
    await session.pause();
    if (this.stateNow === 'running') this.setState('paused', 'script');
  }

  /** Go on after pause(); a guest scrolled out of view stays paused until it is visible again. */
  async resume(): Promise<void> {
    const session = this.requireSession('resume');
    this.pausedByScript = false;
    if (this.stateNow !== 'paused') return;
    if (this.shouldHide()) {
      this.pausedHidden = true;
      this.setState('paused', 'hidden');
      return;
    }
    this.pausedHidden = false;
    await session.resume();
    this.setState('running');
  }

  /** Press the machine's reset button: the guest boots again; `ready` fires at its new prompt. */
  async reset(): Promise<void> {
    const session = this.requireSession('reset');
    this.prompt.restart();
    const from = session.end;
    await session.reset();
    this.watchForPrompt(from, 'boot', performance.now());
  }

  /** Type text into the guest's console, as a user would ("\r" is Enter). */
  type(text: string): void {
    this.requireSession('type').type(String(text));
  }

  /**
   * Resolve with the first text matching `pattern` (a string, or a RegExp) in what the guest
   * printed since it started; reject after `timeoutMs`.
   */
  waitFor(pattern: string | RegExp, timeoutMs: number = DEFAULT_WAIT_MS): Promise<string> {
    const session = this.requireSession('waitFor');
    const find = typeof pattern === 'string'
      ? (text: string) => (text.includes(pattern) ? pattern : null)
      : (text: string) => { const m = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(text); return m ? m[0] : null; };
    return session.waitForText(0, find, timeoutMs, `${String(pattern)} on the console`);
  }

  /**
   * Run one shell command line in the guest (once its prompt is ready) and resolve with its
   * output, without trailing newlines, as $(…) gives it. Commands run one after another.
   */
  run(command: string, timeoutMs: number = DEFAULT_RUN_MS): Promise<string> {
    const result = this.runQueue.then(() => this.runNow(String(command), timeoutMs));
    this.runQueue = result.catch(() => {});
    return result;
  }

  private async runNow(command: string, timeoutMs: number): Promise<string> {
    const session = this.requireSession('run');
    await this.whenReady(timeoutMs);
    const id = `${this.markerTag}-${++this.commands}`;
    const line = markedCommandLine(command, id);
    const from = session.end;
    session.type(`${line}\r`);
    return session.waitForText(from, (text) => commandOutput(text, id), timeoutMs, `the end of "${command}"`);
  }

  /** The running machine saved as a snapshot file (the guest pauses only while its state is copied). */
  async snapshot(): Promise<Blob> {
    const bytes = await this.requireSession('snapshot').snapshot();
    return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  }

  /** Replace the machine by the one in a snapshot (a Blob from snapshot(), or a downloaded file). */
  async restore(snapshot: Blob): Promise<void> {
    if (!(snapshot instanceof Blob)) throw new TypeError('restore() takes a Blob (from snapshot(), or a downloaded .wx86snap file).');
    await this.starting?.catch(() => {});
    const bytes = new Uint8Array(await snapshot.arrayBuffer());
    const generation = ++this.generation;
    try {
      if (!(await this.platformReady())) return;
      const guest = this.guest ?? await chooseGuest(this.guestAttributes(), location.href);
      this.guest = guest;
      await this.restoreFrom(bytes, guest, generation);
    } catch (e) {
      if (generation === this.generation) this.fail(words(e));
      throw new Error(words(e));
    }
  }

  /** The machine's counters now, from its worker; null before it was started. */
  async status(): Promise<X86VmStatus | null> {
    if (!this.session) return null;
    const s = await this.session.status();
    return { state: s.state, instructions: s.instructions, guestSeconds: s.guestSeconds, balloon: s.balloon };
  }

  /**
   * One inspector sample of the running machine (src/inspector/sample.ts): its counters since
   * power-on (port and MMIO accesses per device, exceptions, TLB, JIT, devices, balloon), and
   * what `request` asks for (a page walk ...); null before it was started.
   */
  async sample(request?: X86VmSampleRequest): Promise<X86VmSample | null> {
    return this.session ? this.session.inspector.sample(request) : null;
  }

  /**
   * Live-migrate the running machine, while it runs, to the <x86-vm> (in this page or another tab
   * of this site) waiting in receive(`name`): RAM goes over in pre-copy rounds (`onRound` hears
   * each), then the rest of the state while the guest is stopped. Resolves once it runs there;
   * this element's machine is then off ('migrated').
   */
  async migrate(name: string, onRound?: (round: X86VmMigrationRound) => void): Promise<X86VmMigration> {
    const s = await this.requireSession('migrate').migrate(String(name), (r) => onRound?.({ ...r }));
    this.generation++;
    this.prompt.restart();
    this.setState('off', 'migrated');
    return { rounds: s.rounds, downtimeMs: s.downtimeMs, totalMs: s.totalMs, text: s.text };
  }

  /** Wait for a machine migrated to `name` (migrate()) and run it here; `ready` fires at its prompt. */
  async receive(name: string, onRound?: (round: X86VmMigrationRound) => void): Promise<void> {
    const generation = ++this.generation;
    try {
      if (!(await this.platformReady())) return;
      this.guest ??= await chooseGuest(this.guestAttributes(), location.href);
      const session = this.ensureSession();
      this.prompt.restart();
      this.setState('restoring', `waiting for a VM migrated to "${name}"`);
      this.ensureView().terminal.clear();
      const started = performance.now();
      const arrival = await session.incoming(String(name), this.guest, (r) => onRound?.({ ...r }));
      if (generation !== this.generation) return;
      this.running();
      // A guest paused where it came from arrives paused: it waits for start() or resume() here.
      if (arrival.paused) { this.pausedByScript = true; this.setState('paused', 'arrived paused'); }
      this.watchForPrompt(0, 'snapshot', started);
      session.type(EMPTY_LINE);
    } catch (e) {
      if (generation === this.generation) this.fail(words(e));
      throw new Error(words(e));
    }
  }

  /** Ask the guest's balloon driver to give `mib` MiB back to the host (0: take it all back). */
  async setBalloon(mib: number): Promise<void> {
    await this.requireSession('setBalloon').setBalloon(mib);
  }

  /** What the element's message line shows (an error), '' when nothing. */
  get message(): string {
    return this.view?.messageText ?? '';
  }

  // ---- starting --------------------------------------------------------------------------------

  private async startMachine(): Promise<void> {
    const generation = ++this.generation;
    try {
      if (!(await this.platformReady())) return;
      this.setState('loading');
      const snapshotUrl = this.getAttribute('snapshot');
      const attrs = this.guestAttributes();
      if (snapshotUrl && !attrs.src && !attrs.kernel && !attrs.disk) {
        throw new Error('snapshot= needs src= (or kernel= or disk=) as well: a snapshot holds its images\' SHA-256 only, and they are downloaded from there.');
      }
      const guest = await chooseGuest(attrs, location.href);
      if (generation !== this.generation) return;
      this.guest = guest;
      if (snapshotUrl !== null && snapshotUrl.trim() !== '') {
        const [file, held] = await Promise.all([downloadSnapshot(snapshotUrl.trim(), location.href), downloadImages(guest)]);
        if (generation !== this.generation) return;
        await this.restoreFrom(file, guest, generation, held);
        return;
      }
      const session = this.ensureSession();
      this.prompt.restart();
      this.setState('booting');
      this.ensureView().terminal.clear();
      const started = performance.now();
      await session.boot(guest);
      if (generation !== this.generation) return;
      this.running();
      this.watchForPrompt(0, 'boot', started);
    } catch (e) {
      if (generation === this.generation) this.fail(words(e));
      throw new Error(words(e));
    }
  }

  private async restoreFrom(bytes: Uint8Array, guest: GuestChoice, generation: number, held?: HeldImages): Promise<void> {
    const session = this.ensureSession();
    this.prompt.restart();
    this.setState('restoring');
    const started = performance.now();
    this.ensureView().terminal.clear();
    await session.restore(bytes, guest, held);
    if (generation !== this.generation) return;
    this.running();
    this.watchForPrompt(0, 'snapshot', started);
    // The restored shell printed its prompt before the save: Enter has it print a fresh one.
    session.type(EMPTY_LINE);
  }

  /** Isolated (reloading once through the service worker if need be) and able to host the VM. */
  private async platformReady(): Promise<boolean> {
    if (!(await isolatePage())) {
      this.setState('loading', 'reloading the page with cross-origin isolation');
      return false;
    }
    const missing = missingPlatform();
    if (missing) throw new Error(missing);
    return true;
  }

  /** The shadow DOM, made when the element is first connected (or started before that, from a script). */
  private ensureView(): ShadowView {
    this.view ??= new ShadowView(this, (bytes) => this.session?.input(bytes), (action) => this.onButton(action));
    return this.view;
  }

  private guestAttributes() {
    const a = (name: string) => this.getAttribute(name);
    return {
      src: a('src'), kernel: a('kernel'), initrd: a('initrd'), disk: a('disk'), cmdline: a('cmdline'), memory: a('memory'), clock: a('clock'),
      jit: a('jit'), rng: a('rng'), virtioDisk: a('virtio-disk'),
    };
  }

  private ensureSession(): VmSession {
    this.session ??= new VmSession({
      serial: (bytes, text) => {
        this.view?.terminal.writeBytes(bytes);
        this.emit('serial', { text });
      },
      progress: (p) => {
        if (this.stateNow !== 'loading' && this.stateNow !== 'booting' && this.stateNow !== 'restoring') return;
        const share = p.total ? ` ${Math.round((100 * p.loaded) / p.total)}%` : '';
        this.view?.show(`downloading the ${p.what}${share}`, null);
      },
      exit: (reason, error) => this.exited(reason, error),
      broken: (message) => this.fail(message),
    });
    this.showInspector();
    return this.session;
  }

  private requireSession(what: string): VmSession {
    if (!this.session) throw new Error(`${what}(): the VM has not been started; call start() first.`);
    return this.session;
  }

  // ---- readiness -------------------------------------------------------------------------------

  /** Fire `ready` when the prompt shows in the output after `from` (at once when no prompt is known). */
  private watchForPrompt(from: number, origin: 'boot' | 'snapshot', started: number): void {
    const generation = this.generation;
    const session = this.session!;
    const prompt = this.guest?.prompt?.trimEnd();
    const fire = () => {
      if (generation !== this.generation) return;
      this.prompt.showed();
      this.emit('ready', { from: origin, ms: performance.now() - started } satisfies X86VmReadyDetail);
    };
    if (!prompt) return fire();
    session.waitForText(from, promptFinder(prompt), Infinity, 'the prompt').then(fire, () => {});
  }

  private whenReady(timeoutMs: number): Promise<void> {
    if (!this.prompt.ready && (this.stateNow === 'idle' || this.stateNow === 'off' || this.stateNow === 'error')) {
      return Promise.reject(new Error('The VM is not running: call start() first.'));
    }
    return this.prompt.wait(timeoutMs);
  }

  // ---- state -----------------------------------------------------------------------------------

  /** The machine runs: paused at once if it is out of view. */
  private running(): void {
    this.view?.showMessage(null);
    this.pausedByScript = false;
    this.pausedHidden = false;
    this.setState('running');
    this.visibilityChanged(this.visible);
  }

  private exited(reason: ExitReason, error?: string): void {
    this.prompt.restart();
    if (reason === 'error') {
      this.fail(`The machine stopped with an error: ${error ?? 'unknown'}`);
      return;
    }
    this.prompt.fail(new Error(`The machine stopped (${reason}).`));
    this.setState('off', reason);
  }

  private shouldHide(): boolean {
    return !this.visible && !this.hasAttribute('keep-running');
  }

  private visibilityChanged(visible: boolean): void {
    this.visible = visible;
    const session = this.session;
    if (!session) return;
    if (this.shouldHide() && this.stateNow === 'running') {
      this.pausedHidden = true;
      this.setState('paused', 'hidden');
      session.pause().catch(() => {});
    } else if (!this.shouldHide() && this.pausedHidden && this.stateNow === 'paused') {
      this.pausedHidden = false;
      if (this.pausedByScript) {
        this.setState('paused', 'script');
        return;
      }
      this.setState('running');
      session.resume().catch(() => {});
    }
  }

  private onButton(action: Exclude<ButtonAction, null>): void {
    const done = action === 'start' ? this.start() : action === 'pause' ? this.pause() : this.resume();
    done.catch(() => {}); // start() reports its own failures; the others cannot fail with a session
  }

  private fail(message: string): void {
    this.prompt.fail(new Error(message));
    this.view?.showMessage(message);
    this.setState('error', message);
    this.emit('error', { message });
  }

  private setState(state: X86VmState, reason?: string): void {
    const changed = state !== this.stateNow || state === 'paused' || state === 'error';
    this.stateNow = state;
    const { label, action } = barFor(state, reason);
    this.view?.show(label, action);
    this.setAttribute('state', state);
    if (changed) this.emit('state', { state, reason } satisfies X86VmStateDetail);
  }

  /**
   * Events bubble, so a page can listen for all its VMs at once; except `error`, which would
   * reach the window's error handlers (error reporters take those for script errors).
   */
  private emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: type !== 'error', composed: type !== 'error' }));
  }
}
