// The demo page (embed.html): two <x86-vm> elements and shell snippets, each with a Run button
// that types the snippet into its VM and shows the output under it. Buttons wake up once their
// VM's shell is ready.
import './index.js';
import type { X86VmElement } from './x86-vm.js';

/** Kernel messages stay off the console from then on, so none lands inside a snippet's output. */
const QUIET_CONSOLE = 'dmesg -n 1';

for (const vm of document.querySelectorAll<X86VmElement>('x86-vm')) {
  const snippets = [...document.querySelectorAll<HTMLElement>(`.snippet[data-vm="${vm.id}"]`)];
  const buttons = snippets.map((s) => s.querySelector('button')!);
  const quieted = new Promise<void>((resolve) => {
    vm.addEventListener('ready', () => {
      vm.run(QUIET_CONSOLE).then(() => resolve(), () => resolve());
      for (const b of buttons) b.disabled = false;
    });
  });
  for (const snippet of snippets) {
    const button = snippet.querySelector('button')!;
    const output = snippet.querySelector('output')!;
    const command = snippet.querySelector('pre')!.textContent ?? '';
    button.addEventListener('click', async () => {
      button.disabled = true;
      output.classList.remove('failed');
      output.textContent = '…';
      try {
        await quieted;
        output.textContent = await vm.run(command);
      } catch (e) {
        output.classList.add('failed');
        output.textContent = String((e as Error)?.message ?? e);
      } finally {
        button.disabled = false;
      }
    });
  }
}
