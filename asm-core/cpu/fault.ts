// Raising an exception from inside an instruction. AssemblyScript has no exceptions, so the
// core records the fault, rewinds EIP to the faulting instruction and calls the host's
// unwind(), which throws through the Wasm frames back to the host's run loop; the host then
// calls resume(), which delivers the recorded exception through the IDT (cpu/interrupts.ts).

import { pc, instrStart } from './live';
import { clearPrefixes } from './decode';

@external("env", "unwind") declare function unwind(): void;

/** Exception waiting for delivery, or -1. */
export let pendingVector: i32 = -1;
/** Its error code, or -1 when the vector pushes none. */
export let pendingError: i32 = -1;

/** Raise a fault: the instruction is abandoned and restarts after the handler returns. */
export function raiseFault(vector: u32, errorCode: i32): void {
  pendingVector = <i32>vector;
  pendingError = errorCode;
  pc = instrStart;
  clearPrefixes();
  unwind();
  unreachable();
}

export function clearPending(): void { pendingVector = -1; pendingError = -1; }
