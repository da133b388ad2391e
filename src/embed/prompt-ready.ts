// Whether an <x86-vm>'s guest has shown its shell prompt since its machine last started, and the
// calls (run()) waiting for that (x86-vm.ts watches the console and says when it showed).

export class PromptReady {
  private shown = false;
  private waiters: Array<{ resolve(): void; reject(e: Error): void }> = [];

  /** The prompt has shown since the last start, restore, reset or arrival. */
  get ready(): boolean {
    return this.shown;
  }

  /** The machine starts again: its prompt has not shown yet. */
  restart(): void {
    this.shown = false;
  }

  /** The prompt showed: every wait ends. */
  showed(): void {
    this.shown = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Resolve when the prompt shows (at once if it has); reject after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.shown) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The guest's prompt did not show within ${timeoutMs} ms.`)), timeoutMs);
      this.waiters.push({ resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    });
  }

  /** The machine stopped, or the element left the page: every wait fails with `e`. */
  fail(e: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

/** Finds `prompt` at the start of a line of console text (for VmSession.waitForText). */
export function promptFinder(prompt: string): (text: string) => string | null {
  const atLineStart = new RegExp(`(^|\\n)${prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  return (text) => (atLineStart.test(text) ? prompt : null);
}
