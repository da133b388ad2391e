; 9. System instructions: SGDT/SIDT/SLDT/STR, LLDT/LTR, LAR/LSL/VERR/VERW, ARPL, SMSW/LMSW,
;    MOV CR/DR, RDMSR/WRMSR, SYSENTER/SYSEXIT, CPUID, RDTSC, INVD/WBINVD, CLTS, CPL-3 #GPs.
%include "common.inc"

%define SEL_LDT     0x40
%define SEL_RO      0x48
%define SEL_CGATE   0x50
%define SEL_XO      0x58
%define SEL_CONF    0x60
%define SEL_IGATE   0x68
%define SCRATCH     0x5a0

; ZFLAG slot: store ZF (0/1) after the previous instruction
%macro ZFLAG 1
  setz al
  movzx eax, al
  mov [R(%1)], eax
%endmacro

; ZFVAL zslot, vslot, instr: run a LAR/LSL-like instruction into EAX (preset to 0xdeadbeef)
%macro ZFVAL 3
  mov eax, 0xdeadbeef
  %3
  mov [R(%2)], eax
  ZFLAG %1
%endmacro

; GPTRY slot, instr: store the error code of the #GP the instruction must raise (0xff.. if none)
%macro GPTRY 2
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
  ; --- SGDT / SIDT / SLDT / STR ---
  sgdt [SCRATCH]
  movzx eax, word [SCRATCH]
  SAVE 1, eax
  mov eax, [SCRATCH + 2]
  sub eax, gdt
  SAVE 2, eax
  sidt [SCRATCH]
  movzx eax, word [SCRATCH]
  SAVE 3, eax
  mov eax, [SCRATCH + 2]
  SAVE 4, eax
  mov eax, 0xffffffff
  sldt eax
  SAVE 5, eax                          ; 32-bit register form: zero-extended
  mov eax, 0xffffffff
  str eax
  SAVE 6, eax
  movzx eax, byte [gdt + SEL_TSS + 5]
  SAVE 7, eax                          ; LTR marked the TSS busy
  ; --- LLDT / LTR ---
  mov ax, SEL_LDT
  lldt ax
  sldt ax
  movzx eax, ax
  SAVE 8, eax
  mov ax, SEL_TSS
  GPTRY 9, {ltr ax}                    ; busy TSS -> #GP(sel)
  mov ax, SEL_RO
  GPTRY 10, {lldt ax}                  ; not an LDT -> #GP(sel)
  ; --- LAR / LSL / VERR / VERW at CPL 0 ---
  mov bx, SEL_CODE0
  ZFVAL 11, 12, {lar eax, bx}
  mov bx, SEL_TSS
  ZFVAL 13, 14, {lar eax, bx}
  mov bx, SEL_CGATE
  ZFVAL 15, 16, {lar eax, bx}
  mov bx, SEL_IGATE
  ZFVAL 17, 18, {lar eax, bx}          ; interrupt gate: not valid for LAR
  mov bx, 0
  ZFVAL 19, 20, {lar eax, bx}          ; null
  mov bx, 0x1000
  ZFVAL 21, 22, {lar eax, bx}          ; beyond the GDT limit
  mov bx, SEL_CODE0
  ZFVAL 23, 24, {lsl eax, bx}          ; G = 1: scaled limit
  mov bx, SEL_DATA16
  ZFVAL 25, 26, {lsl eax, bx}
  mov bx, SEL_TSS
  ZFVAL 27, 28, {lsl eax, bx}
  mov bx, SEL_CGATE
  ZFVAL 29, 30, {lsl eax, bx}          ; gates have no limit: ZF = 0
  mov bx, SEL_LDT
  ZFVAL 31, 32, {lsl eax, bx}
  mov bx, SEL_DATA0
  verr bx
  ZFLAG 33
  verw bx
  ZFLAG 34
  mov bx, SEL_CODE0
  verr bx
  ZFLAG 35
  verw bx
  ZFLAG 36
  mov bx, SEL_XO
  verr bx
  ZFLAG 37
  mov bx, SEL_RO
  verr bx
  ZFLAG 38
  verw bx
  ZFLAG 39
  mov bx, SEL_TSS
  verr bx
  ZFLAG 40
  ; --- ARPL ---
  mov ax, 0x08
  mov bx, 0x1b
  arpl ax, bx
  movzx ecx, ax
  ZFLAG 41
  SAVE 42, ecx
  mov ax, 0x1b
  mov bx, 0x08
  arpl ax, bx
  movzx ecx, ax
  ZFLAG 43
  SAVE 44, ecx
  ; --- SMSW / LMSW / CLTS / MOV CR, DR ---
  mov eax, cr0
  and eax, 0xffff
  mov ebx, eax
  smsw ax
  movzx eax, ax
  sub eax, ebx
  SAVE 45, eax                         ; SMSW = CR0[15:0]
  mov ax, 0x0008                       ; PE = 0, TS = 1
  lmsw ax
  mov eax, cr0
  and eax, 0xf
  SAVE 46, eax                         ; PE stays set
  clts
  mov eax, cr0
  and eax, 0xf
  SAVE 47, eax
  mov eax, 0x12345678
  mov cr2, eax
  mov eax, cr2
  SAVE 48, eax
  mov eax, 0x11111110
  mov dr0, eax
  mov eax, 0x22222220
  mov dr3, eax
  mov eax, dr0
  mov ebx, dr3
  xor eax, ebx
  SAVE 49, eax
  mov eax, 0x90                        ; PSE | PGE
  mov cr4, eax
  mov eax, cr4
  SAVE 50, eax
  xor eax, eax
  mov cr4, eax
  ; --- MSRs ---
  mov ecx, 0x174
  mov eax, SEL_CODE0
  xor edx, edx
  wrmsr
  mov ecx, 0x175
  mov eax, 0x2f000
  wrmsr
  mov ecx, 0x176
  mov eax, sysenter_target
  wrmsr
  mov ecx, 0x175
  mov edx, 0xffffffff
  rdmsr
  SAVE 51, eax
  SAVE 52, edx
  mov ecx, 0x174
  rdmsr
  SAVE 53, eax
  mov ecx, 0x176
  rdmsr
  sub eax, sysenter_target
  SAVE 54, eax
  mov ecx, 0x0badc0de
  GPTRY 55, {rdmsr}                    ; no such MSR -> #GP(0)
  ; --- SYSEXIT to ring 3, SYSENTER back ---
  mov ax, SEL_DATA3
  mov ds, ax
  mov es, ax
  mov edx, user
  mov ecx, USTACK_TOP - 0x40
  sysexit
sysenter_target:
  mov ax, cs
  movzx eax, ax
  SAVE 60, eax
  mov ax, ss
  movzx eax, ax
  SAVE 61, eax
  SAVE 62, esp
  SAVEFL 63, 0x200                     ; SYSENTER clears IF
  mov ax, SEL_DATA0
  mov ds, ax
  mov es, ax
  mov ecx, 0x174
  xor eax, eax
  xor edx, edx
  wrmsr
  GPTRY 64, {sysenter}                 ; SYSENTER_CS = 0 -> #GP(0)
  ; --- CPUID ---
  xor eax, eax
  cpuid
  SAVE 65, ebx
  SAVE 66, edx
  SAVE 67, ecx
  cmp eax, 1
  setae al
  movzx eax, al
  SAVE 68, eax
  mov eax, 1
  cpuid
  SAVE 69, eax
  SAVE 70, edx
  ; --- RDTSC, INVD, WBINVD ---
  rdtsc
  mov esi, eax
  mov edi, edx
  mov ecx, 100
.spin:
  loop .spin
  rdtsc
  sub eax, esi
  sbb edx, edi
  setnc bl                             ; t2 >= t1 ...
  or eax, edx
  setnz al                             ; ... and t2 != t1
  and al, bl
  movzx eax, al
  SAVE 71, eax
  mov dword [EXC_CNT], 0
  invd
  wbinvd
  mov eax, [EXC_CNT]
  SAVE 72, eax
  ; CR4.TSD: RDTSC at CPL 3 -> #GP(0)
  mov eax, 4
  mov cr4, eax
  mov dword [R0CONT], .back
  TO_RING3 user2
.back:
  FINISH

user:                                  ; CPL 3 after SYSEXIT
  mov ax, cs
  movzx eax, ax
  mov [R(56)], eax
  mov ax, ss
  movzx eax, ax
  mov [R(57)], eax
  mov [R(58)], esp
  mov bx, SEL_DATA0
  verr bx
  ZFLAG 73                             ; DPL 0 data at CPL 3: not readable
  mov bx, SEL_DATA3
  verw bx
  ZFLAG 74
  mov bx, SEL_CONF
  ZFVAL 75, 76, {lar eax, bx}          ; conforming code: no DPL check
  mov bx, SEL_DATA0
  ZFVAL 77, 78, {lar eax, bx}          ; DPL < CPL: ZF = 0
  mov bx, SEL_CGATE | 3
  ZFVAL 79, 80, {lar eax, bx}          ; DPL-3 call gate is visible
  GPTRY 59, {sysexit}                  ; SYSEXIT at CPL 3 -> #GP(0)
  sysenter

user2:
  GPTRY 81, {rdtsc}                    ; CR4.TSD at CPL 3
  GPTRY 82, {wbinvd}
  GPTRY 83, {mov eax, cr0}
  GPTRY 84, {cli}                      ; IOPL 0
  mov ax, SEL_LDT
  GPTRY 85, {lldt ax}
  int 0x30

COMMON_CODE
GDT_BEGIN
  DESC 0x22000, 0x17, 0x82, 0                  ; 0x40 LDT
  DESC 0, 0xfffff, 0x91, 0xc                   ; 0x48 read-only data
  CGATE main, SEL_CODE0, 0xec, 0               ; 0x50 call gate, DPL 3
  DESC 0, 0xfffff, 0x99, 0xc                   ; 0x58 execute-only code
  DESC 0, 0xfffff, 0x9f, 0xc                   ; 0x60 conforming readable code, DPL 0
  CGATE main, SEL_CODE0, 0x8e, 0               ; 0x68 interrupt gate (not valid in LAR)
GDT_END
