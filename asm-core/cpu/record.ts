// The decoded form of one instruction: a 16-byte record in a block (cpu/blocks.ts), written by
// cpu/predecode.ts and read by the handler it names (cpu/handlers.ts).
//
// A memory operand is kept as its parts: offset = [BASE] + ([INDEX] << SCALE) + DISP, where
// BASE and INDEX name 32-bit words of the state block (a general register's slot, or
// OFF_ZERO when the form has no base or no index), so one formula serves every ModRM/SIB form.

export const REC_SIZE: u32 = 16;
/** u16: the handler number (cpu/handlers.ts, enum H). */
export const REC_HANDLER: u32 = 0;
/** u8: instruction length in bytes (0 for a record that re-decodes the instruction itself). */
export const REC_LEN: u32 = 2;
/** u8: the ModRM reg field, or the register an opcode names; for string instructions the kind. */
export const REC_REG: u32 = 3;
/** u8: register forms: the ModRM r/m register; memory forms: the segment register. */
export const REC_RM: u32 = 4;
/** u8: SIB scale (shift count 0..3). */
export const REC_SCALE: u32 = 5;
/** u8: base register word, as (state offset) / 4. */
export const REC_BASE: u32 = 6;
/** u8: index register word, as (state offset) / 4. */
export const REC_INDEX: u32 = 7;
/** u32: displacement (memory forms); the relative target offset (jumps). */
export const REC_DISP: u32 = 8;
/** u32: immediate operand (sign-extended where the instruction extends it); or a condition code. */
export const REC_IMM: u32 = 12;
