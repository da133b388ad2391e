// What an <x86-vm> element shows inside its shadow root: a slim bar (its state and a
// Start/Pause/Resume button), a message line for errors, the serial console in xterm.js and,
// with the `inspector` attribute, the inspector panel (src/inspector/) beside it. Stylesheets
// go into the shadow root: the document's styles do not reach in there.
import xtermCss from '@xterm/xterm/css/xterm.css?inline';
import { SerialTerminal } from '../ui/terminal.js';
import type { InspectorHandle, InspectorLink } from '../inspector/inspector.js';
import type { X86VmState } from './vm-types.js';

const ELEMENT_CSS = `
:host { display: block; height: 22em; min-height: 8em; background: #0b0d10; color: #d8dee9;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; border: 1px solid #252b33; border-radius: 4px; overflow: hidden; }
:host([hidden]) { display: none; }
.box { display: flex; flex-direction: column; height: 100%; }
[part="bar"] { display: flex; align-items: center; gap: 0.6em; padding: 0.2em 0.5em; background: #14181e; border-bottom: 1px solid #252b33; }
[part="state"] { flex: 1; color: #7b8594; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[part="button"] { font: inherit; color: inherit; background: #252b33; border: 1px solid #3b4252; border-radius: 3px; padding: 0 0.7em; cursor: pointer; }
[part="button"]:disabled { opacity: 0.5; cursor: default; }
[part="message"] { padding: 0.3em 0.5em; background: #3a1d21; color: #f0c0c5; }
[part="message"][hidden] { display: none; }
.main { flex: 1; min-height: 0; display: flex; }
[part="terminal"] { flex: 1; min-width: 0; padding: 2px 4px; }
[part="inspector"] { flex: 1; min-width: 0; border-left: 1px solid #252b33; }
[part="inspector"][hidden] { display: none; }
`;

export type ButtonAction = 'start' | 'pause' | 'resume' | null;

/** What the bar says, and which button it offers, in each state of the element (`reason`: why it paused or stopped). */
export function barFor(state: X86VmState, reason?: string): { label: string; action: ButtonAction } {
  const label: Record<X86VmState, string> = {
    idle: 'not started', loading: 'loading', booting: 'booting', restoring: 'restoring the snapshot',
    running: 'running', paused: reason === 'hidden' ? 'paused (out of view)' : 'paused', off: `stopped${reason ? ` (${reason})` : ''}`, error: 'error',
  };
  const action: ButtonAction = state === 'running' ? 'pause' : state === 'paused' ? 'resume'
    : state === 'idle' || state === 'off' || state === 'error' ? 'start' : null;
  return { label: reason && state === 'loading' ? reason : label[state], action };
}

export class ShadowView {
  readonly terminal: SerialTerminal;
  private readonly stateText: HTMLElement;
  private readonly button: HTMLButtonElement;
  private readonly message: HTMLElement;
  private action: ButtonAction = 'start';
  private readonly root: ShadowRoot;
  private readonly inspectorBox: HTMLElement;
  private inspector: InspectorHandle | null = null;
  /** Bumped by each mount or unmount, so a panel still loading when it was unmounted is dropped. */
  private inspectorTurn = 0;

  constructor(host: HTMLElement, onInput: (bytes: Uint8Array) => void, onButton: (action: Exclude<ButtonAction, null>) => void) {
    const root = host.attachShadow({ mode: 'open' });
    this.root = root;
    const style = document.createElement('style');
    style.textContent = xtermCss + ELEMENT_CSS;
    const box = document.createElement('div');
    box.className = 'box';
    const bar = document.createElement('div');
    bar.setAttribute('part', 'bar');
    this.stateText = document.createElement('span');
    this.stateText.setAttribute('part', 'state');
    this.button = document.createElement('button');
    this.button.type = 'button';
    this.button.setAttribute('part', 'button');
    this.button.addEventListener('click', () => { if (this.action) onButton(this.action); });
    bar.append(this.stateText, this.button);
    this.message = document.createElement('div');
    this.message.setAttribute('part', 'message');
    this.message.setAttribute('role', 'alert');
    this.message.hidden = true;
    const terminalBox = document.createElement('div');
    terminalBox.setAttribute('part', 'terminal');
    this.inspectorBox = document.createElement('div');
    this.inspectorBox.setAttribute('part', 'inspector');
    this.inspectorBox.hidden = true;
    const main = document.createElement('div');
    main.className = 'main';
    main.append(terminalBox, this.inspectorBox);
    box.append(bar, this.message, main);
    root.append(style, box);
    this.terminal = new SerialTerminal(terminalBox, onInput);
    this.show('not started', 'start');
  }

  /** The state line, and what the button does now (null: disabled). */
  show(state: string, action: ButtonAction): void {
    this.stateText.textContent = state;
    this.action = action;
    this.button.disabled = action === null;
    this.button.textContent = action === 'pause' ? 'Pause' : action === 'resume' ? 'Resume' : 'Start';
  }

  showMessage(text: string | null): void {
    this.message.textContent = text ?? '';
    this.message.hidden = text === null;
  }

  /**
   * Show the inspector beside the terminal, sampling the machine through `link`; `onRunState`
   * hears when its controls (or a breakpoint) pause or continue the machine. Its code and
   * stylesheet load on first use (docs pages without the attribute never fetch them).
   */
  async mountInspector(link: InspectorLink, onRunState: (state: 'running' | 'paused') => void): Promise<void> {
    if (this.inspector) return;
    const turn = ++this.inspectorTurn;
    const [{ mountInspector }, css] = await Promise.all([
      import('../inspector/inspector.js'),
      import('../inspector/inspector.css?inline'),
    ]);
    if (turn !== this.inspectorTurn) return;
    if (!this.root.querySelector('style[data-inspector]')) {
      const style = document.createElement('style');
      style.dataset.inspector = '';
      style.textContent = css.default;
      this.root.append(style);
    }
    this.inspectorBox.hidden = false;
    this.inspector = mountInspector(this.inspectorBox, link, { onRunState });
    this.terminal.fit();
  }

  unmountInspector(): void {
    this.inspectorTurn++;
    this.inspector?.destroy();
    this.inspector = null;
    this.inspectorBox.hidden = true;
    this.terminal.fit();
  }

  get messageText(): string {
    return this.message.hidden ? '' : this.message.textContent ?? '';
  }
}
