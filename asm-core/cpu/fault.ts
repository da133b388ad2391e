// Raising an exception from inside an instruction. The core records the fault, rewinds EIP to
// the faulting instruction and throws the module's Wasm exception tag `fault`. It unwinds the
// core's frames, and those of a translation that called a core handler (Wasm exceptions cross
// module boundaries), to the catch around the run loop (index.ts run), which calls loop()
// again: loop() delivers the recorded exception through the IDT (cpu/transfer.ts) and goes on.
// The host sees neither the throw nor the catch.
// AssemblyScript cannot write throw or try/catch, so both are placeholder imports from "fault"
// that asm-core/build.mjs defines after compiling: throwFault() becomes `throw $fault`, and
// index.ts loopCatchingFaults() the try around loop(). The built core imports neither.
// The block loop's fetch of a block (cpu/blocks.ts findBlock) and its MOV r32,m32 and
// MOV m32,r32 (cpu/handlers.ts, the commonest page faults on data) also only record theirs, and
// the block loop returns to the run loop without retiring the instruction: a throw costs the
// host about 5 us of stack unwinding (perf, Node 20), and a fork+exec takes about 50 faults.
// A translation's slow paths (jit/helpers.ts) only record their faults, and the translation
// returns to the run loop, which delivers them; the handlers a translation calls throw, as in
// the block loop, and the exception passes through the translation, which has stored its state
// before the call.

import { pc, instrStart, attention } from './live';
import { clearPrefixes } from './decode';

/** Placeholder: asm-core/build.mjs makes it `throw $fault` (caught in index.ts loopCatchingFaults). */
@external("fault", "throw") declare function throwFault(): void;

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

/** Abandon the current instruction after recordFault(): throw to the run loop, which delivers the fault. */
export function abandon(): void {
  clearPrefixes();
  throwFault();
  unreachable();
}

/** Raise a fault: the instruction is abandoned and restarts after the handler returns. */
export function raiseFault(vector: u32, errorCode: i32): void {
  recordFault(vector, errorCode);
  abandon();
}

export function clearPending(): void { pendingVector = -1; pendingError = -1; }
