; 7b. Segment checks beyond the basics: expand-down limits, the accessed bit, LDT selectors,
;     #AC alignment checks, CR0.EM, #TS for a bad ring-0 stack in the TSS (through a task gate)
;     and for a TSS that is too small.
%include "common.inc"

%define SEL_ED32    0x40       ; expand-down, B = 1, limit 0xfff
%define SEL_ED16    0x48       ; expand-down, B = 0, limit 0xfff
%define SEL_NOTACC  0x50       ; data with A = 0
%define SEL_LDT     0x58       ; LDT at 0x22000
%define SEL_TSS_TS  0x60       ; the #TS handler task
%define SEL_TSS_BAD 0x68       ; 32-bit TSS with limit 0x20
%define LDT_DATA    0x0c       ; LDT index 1, TI = 1
%define LDT_BASE    0x22000

%define TSS_EIP     0x20

%macro TSS32 2
  dd 0, 0, 0, 0, 0, 0, 0
  dd 0
  dd %1, 2
  dd 0, 0, 0, 0, %2, 0, 0, 0
  dd SEL_DATA0, SEL_CODE0, SEL_DATA0, SEL_DATA0, SEL_DATA0, SEL_DATA0
  dd 0
  dw 0, 0x68
%endmacro

; TRYV slot, instr: store (vector << 16) | error code of the exception (0xffffffff: none)
%macro TRYV 2
  mov dword [EXC_VEC], 0xff
  mov dword [EXC_ERR], 0xffffffff
  EXPECT %%ok
  %2
%%ok:
  mov dword [RECOVER], 0
  mov eax, [EXC_VEC]
  shl eax, 16
  or eax, [EXC_ERR]
  mov [R(%1)], eax
%endmacro

BEGIN_PM
main:
  ; --- expand-down data segments ---
  mov ax, SEL_ED32
  mov es, ax
  TRYV 1, {mov eax, [es:0x800]}            ; offset <= limit -> #GP(0)
  TRYV 2, {mov eax, [es:0x1000]}           ; lowest valid offset
  TRYV 3, {mov eax, [es:0xffc]}            ; straddles the limit
  TRYV 4, {mov eax, [es:0x7ffffffc]}       ; B = 1: up to 4 GiB
  mov ax, SEL_ED16
  mov es, ax
  TRYV 5, {mov eax, [es:0xfffc]}           ; B = 0: upper bound 0xffff
  TRYV 6, {mov eax, [es:0xfffe]}           ; crosses 0xffff
  mov ax, SEL_ED16
  mov ss, ax                               ; expand-down stack, 16-bit
  mov esp, 0x8000
  mov ebp, 0x800
  TRYV 7, {mov eax, [ebp]}                 ; -> #SS(0)
  mov ax, SEL_DATA0
  mov ss, ax
  mov es, ax
  mov esp, KSTACK_TOP
  ; --- the accessed bit is set by a segment load ---
  movzx eax, byte [gdt + SEL_NOTACC + 5]
  SAVE 8, eax
  mov ax, SEL_NOTACC
  mov fs, ax
  movzx eax, byte [gdt + SEL_NOTACC + 5]
  SAVE 9, eax
  ; --- LDT selectors ---
  mov dword [LDT_BASE + 8], 0x3000ffff     ; LDT[1]: data, base 0x3000, limit 0xffff
  mov dword [LDT_BASE + 12], 0x00409300
  mov dword [0x3004], 0x1dc0ffee
  mov ax, LDT_DATA
  TRYV 10, {mov fs, ax}                    ; no LDT yet (LDTR null) -> #GP(sel)
  mov ax, SEL_LDT
  lldt ax
  mov ax, LDT_DATA
  mov fs, ax
  mov eax, [fs:4]
  SAVE 11, eax
  mov ax, LDT_DATA | 0x10                  ; LDT index 3: beyond the LDT limit
  TRYV 12, {mov gs, ax}
  ; --- CR0.EM: x87 instructions -> #NM, WAIT does not fault ---
  mov eax, cr0
  or eax, 4
  mov cr0, eax
  TRYV 13, {fld1}
  TRYV 14, {wait}
  mov eax, cr0
  and eax, ~4
  mov cr0, eax
  ; --- #AC: CR0.AM, EFLAGS.AC, CPL 3 ---
  mov eax, cr0
  or eax, 0x40000
  mov cr0, eax
  mov dword [R0CONT], .k1
  pushfd
  or dword [esp], 0x40000
  popfd
  TRYV 15, {mov eax, [0x3001]}             ; CPL 0: no alignment check
  TO_RING3 .u1
.u1:
  TRYV 16, {mov eax, [0x3001]}             ; -> #AC(0)
  TRYV 17, {mov ax, [0x3002]}              ; aligned word: fine
  TRYV 18, {mov ax, [0x3003]}              ; -> #AC(0)
  int 0x30
.k1:
  pushfd
  and dword [esp], ~0x40000
  popfd
  ; --- #TS: TSS.SS0 null on an INT from ring 3; #TS handled by a task gate ---
  mov edi, IDT_BASE + 10 * 8
  mov dword [edi], SEL_TSS_TS << 16
  mov dword [edi + 4], 0x8500
  SETGATE 0x31, dump_handler, GATE_INT3
  mov dword [TSS_BASE + 8], 0              ; SS0 = null
  mov dword [R0CONT], .k2
  TO_RING3 .u2
.u2:
  int 0x31                                 ; #TS -> task fixes SS0 -> retried -> dump
.k2:
  mov eax, [FRAME + 12]
  SAVE 21, eax                             ; the retried INT came from ring 3
  mov eax, [FRAME]
  SAVE 22, eax
  ; --- task switch to a TSS below the minimum limit -> #TS(selector) ---
  SETGATE 10, exc_stubs + 10 * 16, GATE_INT
  TRYV 23, {jmp SEL_TSS_BAD:0}
  FINISH

ts_task:
  SAVE 19, esp
  pop eax
  SAVE 20, eax                             ; #TS error code
  mov dword [TSS_BASE + 8], SEL_DATA0      ; repair SS0; IRET retries the INT
  iretd
  jmp ts_task

COMMON_CODE
  align 16
tss_ts: TSS32 ts_task, 0x38000
tss_bad: TSS32 0, 0x39000
GDT_BEGIN
  DESC 0, 0xfff, 0x97, 0x4                 ; 0x40 expand-down, writable, B = 1
  DESC 0, 0xfff, 0x97, 0x0                 ; 0x48 expand-down, B = 0
  DESC 0, 0xfffff, 0x92, 0xc               ; 0x50 data, not accessed
  DESC LDT_BASE, 0x17, 0x82, 0             ; 0x58 LDT (3 entries)
  DESC ABS(tss_ts), 0x67, ACC_TSS, 0       ; 0x60 #TS task
  DESC ABS(tss_bad), 0x20, ACC_TSS, 0      ; 0x68 TSS too small
GDT_END
