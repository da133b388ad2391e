// The page's Inspector button: the panel's code loads on the first open (its own chunk, so the
// page's first load does not carry it), mounts beside the terminal, and stops sampling when
// closed.

import type { InspectorHandle, InspectorLink, InspectorOptions } from './inspector.js';

export function inspectorToggle(button: HTMLButtonElement, box: HTMLElement, link: InspectorLink, onError: (message: string) => void,
                                options: InspectorOptions = {}): { open(): Promise<void> } {
  let handle: InspectorHandle | null = null;
  const open = async (): Promise<void> => {
    if (handle !== null) return;
    box.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    try {
      const { mountInspector } = await import('./inspector.js');
      if (box.hidden) return; // closed again while loading
      handle = mountInspector(box, link, options);
    } catch (e) {
      box.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      onError(`The inspector could not be loaded: ${(e as Error)?.message ?? String(e)}`);
    }
  };
  const close = (): void => {
    handle?.destroy();
    handle = null;
    box.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };
  button.addEventListener('click', () => { if (box.hidden) void open(); else close(); });
  return { open };
}
