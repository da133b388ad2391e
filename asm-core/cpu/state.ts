// Architectural CPU state: declared once, here. Every field lives at a fixed offset from
// STATE in the core's linear memory. The core exports these offsets (see index.ts), and the
// TypeScript side builds its accessors from those exports, so nothing numbers them twice.

/** Base of the CPU state block in linear memory. */
export const STATE: u32 = 0x1000;

// General registers in x86 encoding order, each in an 8-byte slot (room for x86-64 later).
export const REG_EAX: u32 = 0;
export const REG_ECX: u32 = 1;
export const REG_EDX: u32 = 2;
export const REG_EBX: u32 = 3;
export const REG_ESP: u32 = 4;
export const REG_EBP: u32 = 5;
export const REG_ESI: u32 = 6;
export const REG_EDI: u32 = 7;
export const OFF_REGS: u32 = 0x000; // 8 x 8 bytes
export const OFF_EIP: u32 = 0x040; // 8 bytes
/** EFLAGS as last stored. The arithmetic flags may be lazy: read them through getEflags(). */
export const OFF_EFLAGS: u32 = 0x048;

// Segment registers and the two system segment registers, 16 bytes each:
// +0 selector, +4 base, +8 limit (byte granular, already scaled by G), +12 access rights
// (descriptor bits 40..55 shifted down: type, S, DPL, P at bits 0..7; AVL, L, D/B, G at 12..15).
export const SEG_ES: u32 = 0;
export const SEG_CS: u32 = 1;
export const SEG_SS: u32 = 2;
export const SEG_DS: u32 = 3;
export const SEG_FS: u32 = 4;
export const SEG_GS: u32 = 5;
export const SEG_LDTR: u32 = 6;
export const SEG_TR: u32 = 7;
export const OFF_SEGS: u32 = 0x080; // 8 x 16 bytes
export const SEG_SELECTOR: u32 = 0;
export const SEG_BASE: u32 = 4;
export const SEG_LIMIT: u32 = 8;
export const SEG_ACCESS: u32 = 12;

export const OFF_GDTR_BASE: u32 = 0x100;
export const OFF_GDTR_LIMIT: u32 = 0x104;
export const OFF_IDTR_BASE: u32 = 0x108;
export const OFF_IDTR_LIMIT: u32 = 0x10c;
export const OFF_CR0: u32 = 0x110;
export const OFF_CR2: u32 = 0x114;
export const OFF_CR3: u32 = 0x118;
export const OFF_CR4: u32 = 0x11c;
export const OFF_DR: u32 = 0x120; // DR0..DR7, 4 bytes each
/** Current privilege level (0..3); a cached copy of CS.RPL in protected mode, 3 in v86 mode. */
export const OFF_CPL: u32 = 0x140;

// Model-specific registers.
export const OFF_MSR_SYSENTER_CS: u32 = 0x150;
export const OFF_MSR_SYSENTER_ESP: u32 = 0x154;
export const OFF_MSR_SYSENTER_EIP: u32 = 0x158;
export const OFF_MSR_APIC_BASE: u32 = 0x160; // 8 bytes
export const OFF_MSR_TSC_OFFSET: u32 = 0x168; // f64: guest TSC minus the machine's TSC
export const OFF_MSR_PAT: u32 = 0x170; // 8 bytes
export const OFF_MSR_MTRR_DEF_TYPE: u32 = 0x178; // 8 bytes
export const OFF_MSR_MTRR_FIXED: u32 = 0x180; // 11 x 8 bytes (64K_00000, 16K_80000, 16K_A0000, 4K_C0000..4K_F8000)
export const OFF_MSR_MTRR_VAR: u32 = 0x1e0; // 8 pairs (base, mask) x 16 bytes = 0x80
export const OFF_MSR_MISC_ENABLE: u32 = 0x260; // 8 bytes
export const OFF_MSR_EFER: u32 = 0x268; // 8 bytes, reserved for later
/** A word that is always 0: the missing base or index register of a decoded memory operand (cpu/record.ts). */
export const OFF_ZERO: u32 = 0x270;

// x87 FPU: owned by cpu/fpu*.ts. Physical registers R0..R7 in 16-byte slots
// (+0 significand u64, +8 sign and exponent u16), then the control registers.
export const OFF_FPU_REGS: u32 = 0x300; // 8 x 16 bytes
export const OFF_FPU_FCW: u32 = 0x380; // u16 control word
export const OFF_FPU_FSW: u32 = 0x384; // u16 status word (TOP in bits 11..13)
export const OFF_FPU_FTW: u32 = 0x388; // u16 full tag word (2 bits per physical register)
export const OFF_FPU_FOP: u32 = 0x38c; // u16 last opcode (11 bits)
export const OFF_FPU_FIP: u32 = 0x390; // last instruction offset
export const OFF_FPU_FCS: u32 = 0x394; // last instruction selector
export const OFF_FPU_FDP: u32 = 0x398; // last data operand offset
export const OFF_FPU_FDS: u32 = 0x39c; // last data operand selector
export const OFF_FPU_MXCSR: u32 = 0x3a0; // reserved for SSE

// Core-internal bookkeeping that is still part of a snapshot.
/** EIP of the instruction being executed (faults restart from here). */
export const OFF_INSTR_EIP: u32 = 0x400;
/** Non-zero while the CPU is halted by HLT. */
export const OFF_HALTED: u32 = 0x404;
/** Level of the INTR pin (from the PIC or local APIC). */
export const OFF_INTR: u32 = 0x408;
/** Non-zero when an NMI is latched and not yet delivered. */
export const OFF_NMI_PENDING: u32 = 0x40c;
/** A20 gate: 1 when address line 20 passes through, 0 when it is forced low. */
export const OFF_A20: u32 = 0x410;
/** Guest RAM size in bytes. */
export const OFF_RAM_SIZE: u32 = 0x414;
/** Instructions retired, as f64 (exact up to 2^53). */
export const OFF_INSTR_COUNT: u32 = 0x418;
/**
 * Shadows left by the last instruction (SHADOW_* bits): after STI, MOV SS or POP SS no
 * interrupt, and after MOV SS or POP SS (taken on the careful path) no instruction breakpoint,
 * comes before the next instruction (SDM vol. 3 6.8.3).
 */
export const OFF_SHADOWS: u32 = 0x420;
export const SHADOW_INTERRUPT: u32 = 1;
export const SHADOW_DEBUG: u32 = 2;
/** Non-zero while an NMI handler runs (until the next IRET): further NMIs wait. */
export const OFF_NMI_BLOCKED: u32 = 0x424;
/** Level of the x87 FERR# output as last signalled to the machine. */
export const OFF_FERR: u32 = 0x428;
/** CPUID leaf 1 EDX as this CPU reports it (the APIC bit follows the machine's wiring). */
export const OFF_CPUID_EDX: u32 = 0x42c;

// Lazy arithmetic flags: the last flag-setting operation, evaluated on demand (cpu/flags.ts).
export const OFF_LAZY_OP: u32 = 0x440;
export const OFF_LAZY_RESULT: u32 = 0x444;
export const OFF_LAZY_SRC1: u32 = 0x448;
export const OFF_LAZY_SRC2: u32 = 0x44c;
/** Which of CF PF AF ZF SF OF are currently lazy (in EFLAGS bit positions). */
export const OFF_LAZY_MASK: u32 = 0x450;
/** Operand size of the last flag-setting operation in bits (8, 16, 32). */
export const OFF_LAZY_SIZE: u32 = 0x454;

/**
 * Derived per-segment access checks (not architectural; rebuilt from the descriptor caches by
 * refreshState()): 8 x u32 of SC_* bits, see cpu/segments.ts.
 */
export const OFF_SEG_CHECK: u32 = 0x480;

/** Statistics for the inspector: the last exception (vector, error code, CS, EIP) and a count per vector. */
export const OFF_LAST_EXCEPTION: u32 = 0x4a0; // 4 x u32
export const OFF_EXCEPTION_COUNTS: u32 = 0x500; // 32 x u32

/**
 * The machine's clock (src/machine/clock.ts), so that RDTSC needs no call to the host: guest
 * time in ns is ANCHOR_NS + (instructions retired - ANCHOR_INSTR) * NS_PER_INSTR, never less
 * than FLOOR_NS, and the TSC is that times TSC_PER_NS, rounded down: the clock's own formula.
 * The host writes them before every run and the rate stays constant during one. NS_PER_INSTR 0
 * (a core without a machine's clock): RDTSC asks the host (the readTsc import).
 */
export const OFF_CLOCK_ANCHOR_NS: u32 = 0x4b0; // f64
export const OFF_CLOCK_ANCHOR_INSTR: u32 = 0x4b8; // f64
export const OFF_CLOCK_NS_PER_INSTR: u32 = 0x4c0; // f64
export const OFF_CLOCK_FLOOR_NS: u32 = 0x4c8; // f64
export const OFF_CLOCK_TSC_PER_NS: u32 = 0x4d0; // f64

/**
 * Derived fast-path limits (rebuilt with OFF_SEG_CHECK): per segment an i64 that is the limit
 * when an expand-up read (write) is allowed, else -1, so one compare decides the common case.
 */
export const OFF_SEG_FAST_READ: u32 = 0x580; // 8 x i64
export const OFF_SEG_FAST_WRITE: u32 = 0x5c0; // 8 x i64

export const STATE_SIZE: u32 = 0x600;

// ---- accessors used throughout the core ----

@inline export function reg32(r: u32): u32 { return load<u32>(STATE + OFF_REGS + (r << 3)); }
@inline export function setReg32(r: u32, v: u32): void { store<u32>(STATE + OFF_REGS + (r << 3), v); }
@inline export function reg16(r: u32): u32 { return load<u16>(STATE + OFF_REGS + (r << 3)); }
@inline export function setReg16(r: u32, v: u32): void { store<u16>(STATE + OFF_REGS + (r << 3), <u16>v); }
/** 8-bit registers: AL CL DL BL AH CH DH BH. */
@inline export function reg8(r: u32): u32 { return load<u8>(STATE + OFF_REGS + ((r & 3) << 3) + (r >> 2)); }
@inline export function setReg8(r: u32, v: u32): void { store<u8>(STATE + OFF_REGS + ((r & 3) << 3) + (r >> 2), <u8>v); }

@inline export function eip(): u32 { return load<u32>(STATE + OFF_EIP); }
@inline export function setEip(v: u32): void { store<u32>(STATE + OFF_EIP, v); }

@inline export function segSelector(s: u32): u32 { return load<u32>(STATE + OFF_SEGS + (s << 4) + SEG_SELECTOR); }
@inline export function segBase(s: u32): u32 { return load<u32>(STATE + OFF_SEGS + (s << 4) + SEG_BASE); }
@inline export function segLimit(s: u32): u32 { return load<u32>(STATE + OFF_SEGS + (s << 4) + SEG_LIMIT); }
@inline export function segAccess(s: u32): u32 { return load<u32>(STATE + OFF_SEGS + (s << 4) + SEG_ACCESS); }

@inline export function cr0(): u32 { return load<u32>(STATE + OFF_CR0); }
@inline export function cr4(): u32 { return load<u32>(STATE + OFF_CR4); }
@inline export function cpl(): u32 { return load<u32>(STATE + OFF_CPL); }
@inline export function instrEip(): u32 { return load<u32>(STATE + OFF_INSTR_EIP); }

// CR0 bits
export const CR0_PE: u32 = 1 << 0; // protection enable
export const CR0_MP: u32 = 1 << 1; // monitor coprocessor (WAIT honours TS)
export const CR0_EM: u32 = 1 << 2; // no FPU: ESC instructions raise #NM
export const CR0_TS: u32 = 1 << 3; // task switched: next FPU use raises #NM
export const CR0_ET: u32 = 1 << 4; // extension type (hard-wired 1 on i686)
export const CR0_NE: u32 = 1 << 5; // numeric error: #MF instead of IRQ13
export const CR0_WP: u32 = 1 << 16; // supervisor writes honour read-only pages
export const CR0_AM: u32 = 1 << 18; // alignment mask
export const CR0_NW: u32 = 1 << 29;
export const CR0_CD: u32 = 1 << 30;
export const CR0_PG: u32 = 1 << 31; // paging

// CR4 bits
export const CR4_VME: u32 = 1 << 0;
export const CR4_PVI: u32 = 1 << 1;
export const CR4_TSD: u32 = 1 << 2; // RDTSC is privileged
export const CR4_DE: u32 = 1 << 3; // debugging extensions
export const CR4_PSE: u32 = 1 << 4; // 4 MiB pages
export const CR4_PAE: u32 = 1 << 5;
export const CR4_MCE: u32 = 1 << 6;
export const CR4_PGE: u32 = 1 << 7; // global pages
export const CR4_PCE: u32 = 1 << 8;
export const CR4_OSFXSR: u32 = 1 << 9;
export const CR4_OSXMMEXCPT: u32 = 1 << 10;

// EFLAGS bits
export const FLAG_CF: u32 = 1 << 0;
export const FLAG_PF: u32 = 1 << 2;
export const FLAG_AF: u32 = 1 << 4;
export const FLAG_ZF: u32 = 1 << 6;
export const FLAG_SF: u32 = 1 << 7;
export const FLAG_TF: u32 = 1 << 8;
export const FLAG_IF: u32 = 1 << 9;
export const FLAG_DF: u32 = 1 << 10;
export const FLAG_OF: u32 = 1 << 11;
export const FLAG_IOPL: u32 = 3 << 12;
export const FLAG_NT: u32 = 1 << 14;
export const FLAG_RF: u32 = 1 << 16;
export const FLAG_VM: u32 = 1 << 17;
export const FLAG_AC: u32 = 1 << 18;
export const FLAG_VIF: u32 = 1 << 19;
export const FLAG_VIP: u32 = 1 << 20;
export const FLAG_ID: u32 = 1 << 21;
export const FLAGS_ARITH: u32 = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

// Exception vectors
export const EXC_DE: u32 = 0; // divide error
export const EXC_DB: u32 = 1; // debug
export const EXC_NMI: u32 = 2;
export const EXC_BP: u32 = 3; // breakpoint (INT3)
export const EXC_OF: u32 = 4; // overflow (INTO)
export const EXC_BR: u32 = 5; // BOUND range exceeded
export const EXC_UD: u32 = 6; // invalid opcode
export const EXC_NM: u32 = 7; // device not available
export const EXC_DF: u32 = 8; // double fault
export const EXC_TS: u32 = 10; // invalid TSS
export const EXC_NP: u32 = 11; // segment not present
export const EXC_SS: u32 = 12; // stack fault
export const EXC_GP: u32 = 13; // general protection
export const EXC_PF: u32 = 14; // page fault
export const EXC_MF: u32 = 16; // x87 floating-point error
export const EXC_AC: u32 = 17; // alignment check
export const EXC_MC: u32 = 18; // machine check
