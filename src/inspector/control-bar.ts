// The debugger's controls: pause, one instruction, continue, and breakpoints at linear
// addresses (the core's host breakpoints: invisible to the guest). Every refusal from the
// worker shows as one line here; nothing throws into the page.

import type { InspectorSample } from './sample.js';
import type { InspectorLink } from './view.js';
import { el, hex8, parseAddress, setText } from './view.js';

export class ControlBar {
  readonly root: HTMLElement;
  private readonly pauseButton = el('button', '', 'Pause');
  private readonly stepButton = el('button', '', 'Step');
  private readonly continueButton = el('button', '', 'Continue');
  private readonly breakInput = el('input', 'xi-address');
  private readonly breakButton = el('button', '', 'Break at');
  private readonly list = el('span', 'xi-breaks');
  private readonly state = el('span', 'xi-state');
  private readonly note = el('span', 'xi-note');
  private busy = false;

  constructor(private readonly link: InspectorLink, private readonly refresh: () => void) {
    for (const b of [this.pauseButton, this.stepButton, this.continueButton, this.breakButton]) b.type = 'button';
    this.pauseButton.dataset.action = 'pause';
    this.stepButton.dataset.action = 'step';
    this.continueButton.dataset.action = 'continue';
    this.breakButton.dataset.action = 'break';
    this.state.dataset.field = 'state';
    this.note.dataset.field = 'note';
    this.breakInput.placeholder = 'linear address, hex';
    this.breakInput.setAttribute('aria-label', 'Breakpoint address');
    this.breakInput.spellcheck = false;
    this.stepButton.title = 'Run one instruction (the VM must be paused)';
    // Pause also ends a step that waits for a halted CPU to be woken (which may never come), so it does not wait its turn.
    this.pauseButton.addEventListener('click', () => {
      link.pause().catch((e: unknown) => setText(this.note, String((e as Error)?.message ?? e).split('\n')[0]!)).finally(() => this.refresh());
    });
    this.stepButton.addEventListener('click', () => this.act(() => link.step()));
    this.continueButton.addEventListener('click', () => this.act(() => link.cont()));
    const addBreak = () => {
      const at = parseAddress(this.breakInput.value);
      if (at === null) { setText(this.note, `"${this.breakInput.value}" is not a hex address.`); return; }
      this.act(async () => { await link.setBreakpoint(at); this.breakInput.value = ''; });
    };
    this.breakButton.addEventListener('click', addBreak);
    this.breakInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') addBreak(); });
    this.root = el('div', 'xi-controls', undefined, this.state, this.pauseButton, this.stepButton, this.continueButton,
      this.breakInput, this.breakButton, this.list, this.note);
  }

  /** Run a control; its refusal, in the worker's words, goes to the note. */
  private act(f: () => Promise<unknown>): void {
    if (this.busy) return;
    this.busy = true;
    setText(this.note, '');
    f().catch((e: unknown) => setText(this.note, String((e as Error)?.message ?? e).split('\n')[0]!))
      .finally(() => { this.busy = false; this.refresh(); });
  }

  render(s: InspectorSample | null): void {
    if (s === null) {
      setText(this.state, 'no machine');
      for (const b of [this.pauseButton, this.stepButton, this.continueButton]) b.disabled = true;
      this.list.replaceChildren();
      return;
    }
    const paused = s.state === 'paused';
    setText(this.state, s.stoppedAt !== null && paused ? `stopped at ${hex8(s.stoppedAt)}` : s.state);
    // While a step waits at HLT the machine runs: Pause ends the wait.
    this.pauseButton.disabled = s.state !== 'running';
    this.stepButton.disabled = !paused;
    this.continueButton.disabled = !paused;
    const key = s.breakpoints.join(',');
    if (this.list.dataset.key !== key) {
      this.list.dataset.key = key;
      this.list.title = s.breakpoints.length > 0 ? 'While a breakpoint is set the CPU runs one instruction at a time: the guest is slower.' : '';
      this.list.replaceChildren(...s.breakpoints.map((a) => {
        const b = el('button', 'xi-break', `● ${hex8(a)} ×`);
        b.type = 'button';
        b.title = 'Clear this breakpoint';
        b.dataset.breakpoint = hex8(a);
        b.addEventListener('click', () => this.act(() => this.link.clearBreakpoint(a)));
        return b;
      }));
    }
  }
}
