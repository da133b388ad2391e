; 15. The x87 instruction and data pointers and the last opcode (FIP/FCS, FDP/FDS, FOP) as
;     FNSTENV, FNSAVE and FXSAVE store them: set by non-control instructions, kept by the
;     control instructions, cleared by FNINIT and FNSAVE.
%include "common.inc"

%define ENV       0x5000              ; FNSTENV image (28 bytes, 32-bit protected-mode format)
%define FXAREA    0x5200              ; FXSAVE image (512 bytes, 16-byte aligned)
%define SAVEAREA  0x5400              ; FNSAVE image (108 bytes)
%define SEL_ALT   0x40                ; another flat data selector, for FDS

; FIPAT slot, label: FIP in the last FNSTENV image minus label (0 when it points there).
%macro FIPAT 2
  mov eax, [ENV + 12]
  sub eax, %2
  SAVE %1, eax
%endmacro
; ENVAT slot, offset: a dword of the FNSTENV image.
%macro ENVAT 2
  mov eax, [ENV + %2]
  SAVE %1, eax
%endmacro

BEGIN_PM
main:
  mov eax, cr0
  and eax, ~0xc                            ; EM = TS = 0
  or eax, 0x22                             ; MP, NE
  mov cr0, eax
  fninit
  fld1

  ; --- a memory operand: FIP/FCS, FOP, FDP/FDS ---
.i1:
  fadd dword [one]                         ; D8 05 disp32
  fnstenv [ENV]
  FIPAT 1, .i1
  ENVAT 2, 16                              ; FCS | FOP << 16
  mov eax, [ENV + 20]
  sub eax, one
  SAVE 3, eax
  ENVAT 4, 24                              ; FDS

  ; --- control instructions leave them alone ---
  fldcw [cw]
  fnclex
  fnstsw ax
  fnstcw [cw2]
  fnstenv [ENV]
  FIPAT 5, .i1
  ENVAT 6, 16
  mov eax, [ENV + 20]
  sub eax, one
  SAVE 7, eax

  ; --- a prefixed instruction through another segment ---
  mov ax, SEL_ALT
  mov fs, ax
.i3:
  fmul dword [fs:two]                      ; 64 D8 0D disp32
  fnstenv [ENV]
  FIPAT 8, .i3
  ENVAT 9, 16
  mov eax, [ENV + 20]
  sub eax, two
  SAVE 10, eax
  ENVAT 11, 24

  ; --- FOP keeps the low three bits of the first opcode byte ---
.i4:
  fstp qword [qout]                        ; DD 1D disp32
  fnstenv [ENV]
  FIPAT 12, .i4
  ENVAT 13, 16
  mov eax, [ENV + 20]
  sub eax, qout
  SAVE 14, eax
  fld1
.i5:
  db 0xd8, 0xc0                            ; FADD ST(0), ST(0): no memory operand
  fnstenv [ENV]
  FIPAT 15, .i5
  ENVAT 16, 16

  ; --- FXSAVE ---
.i6:
  fsub dword [one]                         ; D8 25 disp32
  fxsave [FXAREA]
  movzx eax, word [FXAREA + 6]
  SAVE 17, eax                             ; FOP
  mov eax, [FXAREA + 8]
  sub eax, .i6
  SAVE 18, eax                             ; FPU IP
  movzx eax, word [FXAREA + 12]
  SAVE 19, eax                             ; CS
  mov eax, [FXAREA + 16]
  sub eax, one
  SAVE 20, eax                             ; FPU DP
  movzx eax, word [FXAREA + 20]
  SAVE 21, eax                             ; DS

  ; --- FNINIT clears them ---
  fninit
  fnstenv [ENV]
  ENVAT 22, 12
  ENVAT 23, 16
  ENVAT 24, 20
  ENVAT 25, 24

  ; --- FNSAVE stores them, then clears them ---
  fld1
.i8:
  fdiv dword [two]                         ; D8 35 disp32
  fnsave [SAVEAREA]
  mov eax, [SAVEAREA + 12]
  sub eax, .i8
  SAVE 26, eax
  mov eax, [SAVEAREA + 16]
  SAVE 27, eax
  fnstenv [ENV]
  ENVAT 28, 12
  ENVAT 29, 16
  ENVAT 30, 20

  ; --- at CPL 3 the selectors carry RPL 3 ---
  mov dword [R0CONT], .back
  TO_RING3 .user
.user:
  fld1
.i9:
  fadd dword [one]
  fnstenv [ENV]
  FIPAT 31, .i9
  ENVAT 32, 16
  ENVAT 33, 24
  int 0x30
.back:
  FINISH

align 8
one:  dd 1.0
two:  dd 2.0
qout: dq 0
cw:   dw 0x037f
cw2:  dw 0

COMMON_CODE
GDT_BEGIN
  DESC 0, 0xfffff, ACC_DATA3, 0xc          ; 0x40 flat data (DPL 3), another selector
GDT_END
