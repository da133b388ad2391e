// webx86.js, the embeddable build: importing it defines the <x86-vm> element (x86-vm.ts).
//
//   <script type="module" src="/webx86.js"></script>
//   <x86-vm src="/images/default.json" memory="64" autostart></x86-vm>
//
// From a script: `const vm = document.querySelector('x86-vm')`, then `await vm.run('uname -a')`.
import { X86VmElement } from './x86-vm.js';

export { X86VmElement };
export type { X86VmReadyDetail, X86VmState, X86VmMigration, X86VmMigrationRound, X86VmSample, X86VmSampleRequest, X86VmStateDetail, X86VmStatus } from './x86-vm.js';
export type { GuestManifest } from './guest-choice.js';

// A page may load webx86.js twice (two script tags, or a bundle and a tag): define it once.
if (!customElements.get('x86-vm')) customElements.define('x86-vm', X86VmElement);

declare global {
  interface HTMLElementTagNameMap {
    'x86-vm': X86VmElement;
  }
}
