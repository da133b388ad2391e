; 13. Debug traps inside repeated string instructions: TF single-steps a REP one iteration at a
;     time, data and I/O breakpoints stop it after the iteration that hit, and the #DB frame of
;     an iteration that is not the last carries RF (so an instruction breakpoint on the REP does
;     not fire again when it resumes).
%include "common.inc"

%define DBCNT    0x5a0
%define DBLIMIT  0x5a4        ; clear TF in the frame after this many #DB
%define DBRFMASK 0x5a8        ; set RF in the frame when DR6 & this (an instruction breakpoint)
%define DBLOG    0x3000       ; 16 bytes per #DB: EIP, EFLAGS, ECX, DR6

%macro DB_RESET 2
  mov dword [DBCNT], 0
  mov dword [DBLIMIT], %1
  mov dword [DBRFMASK], %2
  mov edi, DBLOG
  mov ecx, 64
  xor eax, eax
  rep stosd
%endmacro

%macro TF_ON 0
  pushfd
  or dword [esp], 0x100
  popfd
%endmacro

; LOG slot, n, field: store field (0 EIP, 4 EFLAGS, 8 ECX, 12 DR6) of #DB n in a slot.
%macro LOG 3
  mov eax, [DBLOG + (%2) * 16 + (%3)]
  SAVE %1, eax
%endmacro
; LOGEIP slot, n, label: EIP of #DB n minus label (0 when it is there).
%macro LOGEIP 3
  mov eax, [DBLOG + (%2) * 16]
  sub eax, %3
  SAVE %1, eax
%endmacro
; LOGRF slot, n: the RF bit in the EFLAGS image of #DB n.
%macro LOGRF 2
  mov eax, [DBLOG + (%2) * 16 + 4]
  and eax, 0x10000
  SAVE %1, eax
%endmacro

BEGIN_PM
main:
  SETGATE 1, db_handler, GATE_INT
  xor eax, eax
  mov dr6, eax
  mov dr7, eax
  cld

  ; --- TF: REP MOVSB, ECX = 3 (forward: the core's run-at-once path) ---
  DB_RESET 3, 0
  mov esi, src
  mov edi, dst1
  mov ecx, 3
  TF_ON
.t1:
  rep movsb
.t1end:
  nop
  mov eax, [DBCNT]
  SAVE 1, eax
  LOGEIP 2, 0, .t1
  LOG 3, 0, 8
  LOGRF 4, 0
  LOGEIP 5, 1, .t1
  LOG 6, 1, 8
  LOGRF 7, 1
  LOGEIP 8, 2, .t1end
  LOG 9, 2, 8
  LOGRF 10, 2
  LOG 11, 0, 12
  mov eax, [dst1]
  SAVE 12, eax

  ; --- TF: REP with ECX = 0 ---
  DB_RESET 1, 0
  xor ecx, ecx
  TF_ON
  rep movsb
.t2end:
  nop
  mov eax, [DBCNT]
  SAVE 13, eax
  LOGEIP 14, 0, .t2end
  LOG 15, 0, 8

  ; --- TF: REPE CMPSB that ends on a mismatch at the second element ---
  DB_RESET 2, 0
  mov esi, str1
  mov edi, str2
  mov ecx, 5
  TF_ON
.t3:
  repe cmpsb
.t3end:
  nop
  mov eax, [DBCNT]
  SAVE 16, eax
  LOGEIP 17, 0, .t3
  LOG 18, 0, 8
  LOGEIP 19, 1, .t3end
  LOG 20, 1, 8
  LOGRF 21, 1

  ; --- TF: backward REP MOVSW (element by element) ---
  DB_RESET 2, 0
  mov esi, src + 2
  mov edi, dst2 + 2
  mov ecx, 2
  std
  TF_ON
.t4:
  rep movsw
.t4end:
  cld
  mov eax, [DBCNT]
  SAVE 22, eax
  LOGEIP 23, 0, .t4
  LOG 24, 0, 8
  LOGEIP 25, 1, .t4end
  mov eax, [dst2]
  SAVE 26, eax

  ; --- DR0 write breakpoint on the third byte a REP MOVSB writes ---
  DB_RESET 100, 0
  mov eax, dst3 + 2
  mov dr0, eax
  mov eax, 0x00010001          ; L0, R/W0 = 01 (writes), LEN0 = 00
  mov dr7, eax
  mov esi, src
  mov edi, dst3
  mov ecx, 6
.t5:
  rep movsb
  xor eax, eax
  mov dr7, eax
  mov eax, [DBCNT]
  SAVE 27, eax
  LOGEIP 28, 0, .t5
  LOG 29, 0, 8
  LOGRF 30, 0
  LOG 31, 0, 12
  mov eax, [dst3 + 2]
  SAVE 32, eax

  ; --- DR1 read breakpoint on the second byte a REP OUTSB reads ---
  DB_RESET 100, 0
  mov eax, src + 1
  mov dr1, eax
  mov eax, 0x00300004          ; L1, R/W1 = 11 (reads and writes), LEN1 = 00
  mov dr7, eax
  mov esi, src
  mov ecx, 4
  mov dx, 0xe8
.t6:
  rep outsb
  xor eax, eax
  mov dr7, eax
  mov eax, [DBCNT]
  SAVE 33, eax
  LOGEIP 34, 0, .t6
  LOG 35, 0, 8
  LOG 36, 0, 12

  ; --- DR3 I/O breakpoint on the port of a REP OUTSB ---
  DB_RESET 100, 0
  mov eax, cr4
  or eax, 8                    ; CR4.DE
  mov cr4, eax
  mov eax, 0xe9
  mov dr3, eax
  mov eax, 0x20000040          ; L3, R/W3 = 10 (I/O), LEN3 = 00
  mov dr7, eax
  mov esi, src
  mov ecx, 3
  mov dx, 0xe9
.t7:
  rep outsb
  xor eax, eax
  mov dr7, eax
  mov eax, cr4
  and eax, ~8
  mov cr4, eax
  LOGEIP 37, 0, .t7
  LOG 38, 0, 8
  LOG 39, 0, 12

  ; --- TF and a DR0 instruction breakpoint on the REP itself ---
  DB_RESET 4, 1                ; the handler sets RF only for the instruction breakpoint
  mov eax, .t8
  mov dr0, eax
  mov eax, 1                   ; L0, execute
  mov dr7, eax
  mov esi, src
  mov edi, dst4
  mov ecx, 3
  TF_ON
.t8:
  rep movsb
.t8end:
  nop
  xor eax, eax
  mov dr7, eax
  mov eax, [DBCNT]
  SAVE 40, eax
  LOGEIP 41, 0, .t8
  LOG 42, 0, 12
  LOGEIP 43, 1, .t8
  LOG 44, 1, 8
  LOGRF 45, 1
  LOGEIP 46, 2, .t8
  LOGRF 47, 2
  LOGEIP 48, 3, .t8end
  LOGRF 49, 3

  ; --- TF and a DR0 write breakpoint hit by the first iteration of a REP MOVSB ---
  DB_RESET 3, 0
  mov eax, dst5
  mov dr0, eax
  mov eax, 0x00010001          ; L0, R/W0 = 01 (writes), LEN0 = 00
  mov dr7, eax
  mov esi, src
  mov edi, dst5
  mov ecx, 3
  TF_ON
.t9:
  rep movsb
.t9end:
  nop
  xor eax, eax
  mov dr7, eax
  mov eax, [DBCNT]
  SAVE 50, eax
  LOGEIP 51, 0, .t9
  LOG 52, 0, 8
  LOG 53, 0, 12
  LOGEIP 54, 1, .t9
  LOGEIP 55, 2, .t9end
  FINISH

db_handler:
  push eax
  push ebx
  mov ebx, [DBCNT]
  shl ebx, 4
  mov eax, [esp + 8]
  mov [DBLOG + ebx], eax       ; EIP
  mov eax, [esp + 16]
  mov [DBLOG + ebx + 4], eax   ; EFLAGS image
  mov [DBLOG + ebx + 8], ecx
  mov eax, dr6
  mov [DBLOG + ebx + 12], eax
  test eax, [DBRFMASK]
  jz .norf
  or dword [esp + 16], 0x10000 ; step over the instruction breakpoint
.norf:
  xor eax, eax
  mov dr6, eax
  shr ebx, 4
  inc ebx
  mov [DBCNT], ebx
  cmp ebx, [DBLIMIT]
  jb .keep
  and dword [esp + 16], ~0x100
.keep:
  pop ebx
  pop eax
  iretd

align 4
src:  db 1, 2, 3, 4, 5, 6, 7, 8
str1: db 'AB', 0, 0, 0
str2: db 'AX', 0, 0, 0
dst1: dd 0
dst2: dd 0, 0
dst3: dd 0, 0
dst4: dd 0
dst5: dd 0

COMMON_CODE
GDT_BEGIN
GDT_END
