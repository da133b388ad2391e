// Test entry for asm-core/cpu/fpu*.ts: the x87 instruction layer on top of the core's real MMU,
// fault and flag modules, driven directly through fpuExecute (see fpu.test.ts).
export { fpuExecute } from '../../../asm-core/cpu/fpu';
export { fpuWait, fpuFxsave, fpuFxrstor, fpuReset } from '../../../asm-core/cpu/fpu-env';
export { STATE, OFF_FPU_REGS, OFF_FPU_FCW, OFF_FPU_FSW, OFF_FPU_FTW, OFF_CR0, OFF_RAM_SIZE, OFF_A20 } from '../../../asm-core/cpu/state';
export { RAM_BASE } from '../../../asm-core/mmu/phys';
export { getEflags } from '../../../asm-core/cpu/flags';
export { syncFromState } from '../../../asm-core/cpu/live';
export { setEflagsRaw } from '../../../asm-core/cpu/flags';
export { setRamSize } from '../../../asm-core/mmu/phys';
