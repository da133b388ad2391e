; 7. Exceptions: #DE, #UD, #GP/#NP/#SS error codes for segment loads and limits, the double-fault
;    table, RF in the pushed EFLAGS, and a triple fault (the core must return 'reset').
%include "common.inc"

%define SEL_NP      0x40       ; data, not present
%define SEL_RO      0x48       ; read-only data
%define SEL_SMALL   0x50       ; data, base 0x50000, limit 0xfff
%define SEL_XO      0x58       ; execute-only code
%define SEL_RX      0x60       ; readable code

; FAULT slot_vec, slot_err: run the next instruction expecting an exception; store vector
; and error code, and (EIP - instruction) in slot_vec + 2.
%macro FAULT 1
  mov dword [EXC_VEC], 0xff
  mov dword [EXC_ERR], 0xeeee
  EXPECT %%done
%%insn:
  %1
%%done:
  mov eax, [EXC_VEC]
  SAVE n, eax
  mov eax, [EXC_ERR]
  SAVE n + 1, eax
  mov eax, [EXC_EIP]
  sub eax, %%insn
  SAVE n + 2, eax
%assign n n + 3
%endmacro
%assign n 1

BEGIN_PM
main:
  ; --- #DE ---
  xor edx, edx
  mov eax, 1
  xor ecx, ecx
  FAULT {div ecx}                              ; 1..3
  mov eax, 0x80000000
  mov edx, 0xffffffff
  mov ecx, -1
  FAULT {idiv ecx}                             ; 4..6: quotient overflow
  ; --- #UD ---
  FAULT {ud2}                                  ; 7..9
  FAULT {db 0xf0, 0x90}                        ; 10..12: LOCK NOP
  FAULT {db 0x8e, 0xc8}                        ; 13..15: MOV CS, AX
  ; --- segment loads ---
  mov ax, 0x1000
  FAULT {mov ds, ax}                           ; 16..18: beyond the GDT limit
  mov ax, 0x1003
  FAULT {mov ds, ax}                           ; 19..21: RPL not in the error code
  mov ax, SEL_NP
  FAULT {mov ds, ax}                           ; 22..24: not present -> #NP
  mov ax, SEL_DATA0 | 3
  FAULT {mov ss, ax}                           ; 25..27: SS RPL != CPL
  mov ax, SEL_NP
  FAULT {mov ss, ax}                           ; 28..30: SS not present -> #SS
  mov ax, SEL_RO
  FAULT {mov ss, ax}                           ; 31..33: SS not writable
  mov ax, SEL_XO
  FAULT {mov ds, ax}                           ; 34..36: execute-only code in DS
  mov ax, SEL_RX
  mov es, ax                                   ; readable code in ES is fine
  FAULT {mov dword [es:0x7f00], 1}             ; 37..39: write to code
  mov ax, SEL_RO
  mov es, ax
  FAULT {mov dword [es:0x7f00], 1}             ; 40..42: write to read-only data
  xor ax, ax
  mov es, ax
  FAULT {mov eax, [es:0]}                      ; 43..45: null selector use
  mov ax, SEL_DATA16
  mov es, ax
  FAULT {mov eax, [es:0xfffe]}                 ; 46..48: dword across the 64 KiB limit
  mov ax, SEL_DATA0
  mov es, ax
  ; --- #SS: an SS-relative access beyond the stack limit ---
  mov ax, SEL_SMALL
  mov ss, ax
  mov esp, 0xc00
  mov ebp, 0x2000
  FAULT {mov eax, [ebp]}                       ; 49..51
  mov ax, SEL_DATA0
  mov ss, ax
  mov esp, KSTACK_TOP
  ; --- benign then contributory: #UD whose gate is not present -> #NP(6*8+2+EXT) ---
  mov byte [IDT_BASE + 6 * 8 + 5], 0x0e
  FAULT {ud2}                                  ; 52..54
  ; --- contributory then contributory: #GP whose gate is not present -> #NP -> #DF(0) ---
  mov byte [IDT_BASE + 13 * 8 + 5], 0x0e
  mov ax, 0x1000
  FAULT {mov ds, ax}                           ; 55..57
  mov ax, SEL_DATA0
  mov ds, ax
  ; --- #PF then #PF -> #DF; paging with a not-present page under the stack would need more
  ;     tables: instead #NP then #GP (a gate beyond the IDT limit) -> #DF
  mov byte [IDT_BASE + 13 * 8 + 5], GATE_INT
  mov byte [IDT_BASE + 11 * 8 + 5], 0x0e       ; #NP gate not present too
  mov ax, SEL_NP
  FAULT {mov ds, ax}                           ; 58..60: #NP -> #NP(11*8+2+1) -> #DF
  ; --- RF in the EFLAGS image the exception pushes: 1 for a fault, as it was for a trap ---
%assign n 64
  xor edx, edx
  mov eax, 1
  xor ecx, ecx
  FAULT {div ecx}                              ; 64..66: #DE, a fault
  mov eax, [EXC_EFL]
  and eax, 0x10000
  SAVE 67, eax
  EXPECT .after_bp
  int3                                         ; #BP, a trap
.after_bp:
  mov eax, [EXC_EFL]
  and eax, 0x10000
  SAVE 68, eax
  ; --- triple fault: no IDT at all ---
  mov dword [R(0)], DONE_MAGIC
  lidt [null_idt]
  int3
  SAVE 63, 0xdead                              ; never reached
  hlt

  align 8
null_idt:
  dw 0
  dd 0

COMMON_CODE
GDT_BEGIN
  DESC 0, 0xfffff, 0x13, 0xc                   ; 0x40 data, P = 0
  DESC 0, 0xfffff, 0x91, 0xc                   ; 0x48 read-only data
  DESC 0x50000, 0xfff, 0x93, 0x4               ; 0x50 small stack
  DESC 0, 0xfffff, 0x99, 0xc                   ; 0x58 execute-only code
  DESC 0, 0xfffff, 0x9b, 0xc                   ; 0x60 readable code
GDT_END
