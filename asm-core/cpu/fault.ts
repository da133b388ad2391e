// Raising an exception from inside an instruction. AssemblyScript has no exceptions, so the
// core records the fault, rewinds EIP to the faulting instruction and calls the host's
// unwind(), which throws through the Wasm frames back to the host's run loop; the host then
// calls resume(), which delivers the recorded exception through the IDT (cpu/transfer.ts).
// Translated code does without the throw: its slow paths (jit/helpers.ts) only record the
// fault, and the translation returns to the run loop, which delivers it (index.ts loop).

import { pc, instrStart, attention } from './live';
import { clearPrefixes } from './decode';

@external("env", "unwind") declare function unwind(): void;

/** Exception waiting for delivery, or -1. */
export let pendingVector: i32 = -1;
/** Its error code, or -1 when the vector pushes none. */
export let pendingError: i32 = -1;

/** Record a fault for the run loop to deliver: the instruction restarts after the handler returns. */
export function recordFault(vector: u32, errorCode: i32): void {
  pendingVector = <i32>vector;
  pendingError = errorCode;
  pc = instrStart;
  attention = true;
}

/** Abandon the current instruction after recordFault(): unwind to the host's run loop. */
export function abandon(): void {
  clearPrefixes();
  unwind();
  unreachable();
}

/** Raise a fault: the instruction is abandoned and restarts after the handler returns. */
export function raiseFault(vector: u32, errorCode: i32): void {
  recordFault(vector, errorCode);
  abandon();
}

export function clearPending(): void { pendingVector = -1; pendingError = -1; }
