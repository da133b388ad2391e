; 6. Debug: TF single-step traps (DR6.BS), DR0 instruction breakpoints (fault, RF), INT1/ICEBP,
;    INT3 and INT 3, INTO, DR6/DR7 fixed bits.
%include "common.inc"

%define DBCNT    0x5a0
%define DBLIMIT  0x5a4        ; clear TF in the frame after this many traps
%define DBSETRF  0x5a8        ; set RF in the frame (to step over an instruction breakpoint)
%define DBLOG    0x1000       ; EIP of each #DB
%define DBDR6    0x1100       ; DR6 at each #DB

%macro DB_RESET 2
  mov dword [DBCNT], 0
  mov dword [DBLIMIT], %1
  mov dword [DBSETRF], %2
%endmacro

BEGIN_PM
main:
  SETGATE 1, db_handler, GATE_INT
  xor eax, eax
  mov dr6, eax
  mov eax, dr6
  SAVE 1, eax                  ; fixed bits
  xor eax, eax
  mov dr7, eax
  mov eax, dr7
  SAVE 2, eax

  ; --- TF single-step ---
  DB_RESET 3, 0
  pushfd
  or dword [esp], 0x100
  popfd
.s0:
  nop
.s1:
  nop
.s2:
  mov eax, 1
.s3:
  nop
  nop
  mov eax, [DBCNT]
  SAVE 3, eax
  mov eax, [DBLOG]
  sub eax, .s1
  SAVE 4, eax                  ; no trap after POPF itself: the first is after .s0
  mov eax, [DBLOG + 4]
  sub eax, .s2
  SAVE 5, eax
  mov eax, [DBLOG + 8]
  sub eax, .s3
  SAVE 6, eax
  mov eax, [DBDR6]
  and eax, 0x400f
  SAVE 7, eax                  ; BS
  SAVEFL 8, 0x100              ; TF off again

  ; --- MOV SS holds off the single-step trap for one instruction ---
  DB_RESET 2, 0
  pushfd
  or dword [esp], 0x100
  popfd
.m0:
  mov ax, ss
.m1:
  mov ss, ax
.m2:
  nop
.m3:
  nop
  nop
  mov eax, [DBCNT]
  SAVE 22, eax
  mov eax, [DBLOG]
  sub eax, .m1
  SAVE 23, eax
  mov eax, [DBLOG + 4]
  sub eax, .m3
  SAVE 24, eax

  ; --- DR0 instruction breakpoint ---
  DB_RESET 100, 1
  mov eax, bp_target
  mov dr0, eax
  mov eax, 0x401               ; L0, R/W0 = 00 (execute), LEN0 = 00
  mov dr7, eax
  xor eax, eax
  call bp_target
  SAVE 9, eax                  ; the instruction ran after the fault
  call bp_target               ; hits again (RF only covers one instruction)
  xor eax, eax
  mov dr7, eax
  call bp_target               ; disabled: no #DB
  mov eax, [DBCNT]
  SAVE 10, eax
  mov eax, [DBLOG]
  sub eax, bp_target
  SAVE 11, eax                 ; fault: EIP = the breakpoint address
  mov eax, [DBDR6]
  and eax, 1
  SAVE 12, eax                 ; B0
  mov eax, [DBLOG + 4]
  sub eax, bp_target
  SAVE 13, eax
  SAVEFL 14, 0x10000           ; RF is clear again

  ; --- DR1 data breakpoint: dword writes, then DR2 byte reads/writes ---
  DB_RESET 100, 0
  mov eax, watch
  mov dr1, eax
  mov eax, watch + 6
  mov dr2, eax
  mov eax, 0x03d00014          ; L1 W/4 (R/W1 = 01, LEN1 = 11), L2 RW/1 (R/W2 = 11, LEN2 = 00)
  mov dr7, eax
  mov eax, [watch]             ; a read of a write-only breakpoint: no trap
  mov dword [watch + 2], 7     ; overlaps DR1's dword (bytes 2..5): trap after it
.after_w:
  mov al, [watch + 6]          ; DR2: a read traps
.after_r:
  mov byte [watch + 8], 1      ; no breakpoint covers byte 8
  xor eax, eax
  mov dr7, eax
  mov eax, [DBCNT]
  SAVE 25, eax
  mov eax, [DBLOG]
  sub eax, .after_w
  SAVE 26, eax                 ; data breakpoints are traps: EIP after the write
  mov eax, [DBDR6]
  and eax, 0xf
  SAVE 27, eax                 ; B1
  mov eax, [DBLOG + 4]
  sub eax, .after_r
  SAVE 28, eax
  mov eax, [DBDR6 + 4]
  and eax, 0xf
  SAVE 29, eax                 ; B2

  ; --- DR3 I/O breakpoint on port 0xE8 (needs CR4.DE) ---
  DB_RESET 100, 0
  mov eax, cr4
  or eax, 8                    ; CR4.DE
  mov cr4, eax
  mov eax, 0xe8
  mov dr3, eax
  mov eax, 0x20000040          ; L3, R/W3 = 10 (I/O), LEN3 = 00
  mov dr7, eax
  mov al, 0x11
  out 0xe9, al                 ; another port: no trap
  out 0xe8, al
.after_io:
  xor eax, eax
  mov dr7, eax
  mov eax, cr4
  and eax, ~8
  mov cr4, eax
  mov eax, [DBCNT]
  SAVE 30, eax
  mov eax, [DBLOG]
  sub eax, .after_io
  SAVE 31, eax
  mov eax, [DBDR6]
  and eax, 0xf
  SAVE 32, eax                 ; B3

  ; --- ICEBP / INT1 ---
  DB_RESET 100, 0
  db 0xf1
.after_icebp:
  mov eax, [DBCNT]
  SAVE 15, eax
  mov eax, [DBLOG]
  sub eax, .after_icebp
  SAVE 16, eax                 ; trap: EIP after F1

  ; --- INT3, INT 3, INTO ---
  mov dword [RECOVER], 1
  int3
.after_cc:
  mov eax, [EXC_VEC]
  SAVE 17, eax
  mov eax, [EXC_EIP]
  sub eax, .after_cc
  SAVE 18, eax
  int 3
.after_cd03:
  mov eax, [EXC_EIP]
  sub eax, .after_cd03
  SAVE 19, eax
  mov eax, 0x7fffffff
  add eax, 1                   ; OF = 1
  into
.after_into:
  mov eax, [EXC_VEC]
  SAVE 20, eax
  mov eax, [EXC_EIP]
  sub eax, .after_into
  SAVE 21, eax
  mov dword [RECOVER], 0

  FINISH

bp_target:
  mov eax, 0x55
  ret

align 8
watch: times 16 db 0

db_handler:
  push eax
  push ebx
  mov ebx, [DBCNT]
  mov eax, [esp + 8]
  mov [DBLOG + ebx * 4], eax
  mov eax, dr6
  mov [DBDR6 + ebx * 4], eax
  xor eax, eax
  mov dr6, eax
  inc ebx
  mov [DBCNT], ebx
  cmp ebx, [DBLIMIT]
  jb .keep
  and dword [esp + 16], ~0x100
.keep:
  cmp dword [DBSETRF], 0
  je .out
  or dword [esp + 16], 0x10000
.out:
  pop ebx
  pop eax
  iretd

COMMON_CODE
GDT_BEGIN
GDT_END
