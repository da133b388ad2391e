// Breakpoints of a debugger on the host (the gdb stub, the inspector), not the guest's own
// DR0-DR3: while any is set, the run loop (index.ts loop) runs one instruction at a time and
// stops before executing an instruction at one of these linear addresses, with STOP_BREAK.
// The guest cannot observe them: no exception, no DR6 change, and translated code and decoded
// blocks simply are not used meanwhile.

export const HOST_BREAKPOINTS: u32 = 32;
const addresses = new StaticArray<u32>(HOST_BREAKPOINTS);
const used = new StaticArray<u8>(HOST_BREAKPOINTS);
/** Breakpoints set (the run loop steps while this is not 0). */
export let hostBreakCount: u32 = 0;
/** A run resumed at this linear address executes its instruction before breaking there again. */
let resumeAt: u32 = 0;
let resuming: bool = false;

/** Set breakpoint slot `i` at linear `lin`; 0 when `i` is out of range. */
export function setHostBreak(i: u32, lin: u32): u32 {
  if (i >= HOST_BREAKPOINTS) return 0;
  if (unchecked(used[i]) == 0) hostBreakCount++;
  unchecked(used[i] = 1);
  unchecked(addresses[i] = lin);
  return 1;
}

/** Clear breakpoint slot `i`. */
export function clearHostBreak(i: u32): void {
  if (i >= HOST_BREAKPOINTS || unchecked(used[i]) == 0) return;
  unchecked(used[i] = 0);
  hostBreakCount--;
}

/** The next run goes past a breakpoint at `lin` (where it stopped) once. */
export function resumeFromBreak(lin: u32): void { resumeAt = lin; resuming = true; }

/** Should the run stop before the instruction at linear `lin`? Ends a resume's grace. */
export function hostBreakHit(lin: u32): bool {
  if (resuming) {
    resuming = false;
    if (lin == resumeAt) return false;
  }
  for (let i: u32 = 0; i < HOST_BREAKPOINTS; i++) {
    if (unchecked(used[i]) != 0 && unchecked(addresses[i]) == lin) return true;
  }
  return false;
}
