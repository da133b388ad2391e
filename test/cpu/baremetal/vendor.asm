; 14. Behaviour where Intel and AMD processors differ, pinned to the Intel one: LOCK MOV CR0
;     (#UD on Intel, a MOV from CR8 on AMD), and which fault an instruction reports when two
;     could (RETF imm16, CMPS, BOUND). All at CPL 0 with paging on.
%include "common.inc"

%define PD        0x100000
%define PT0       0x101000            ; identity map of 0..4 MiB
%define PT1       0x102000            ; linear 0x400000..: 0x402000, 0x403000 present, the rest absent
%define P         1
%define RW        2
%define PTE(n)    (PT1 + (n) * 4)

%macro CLEAR_EXC 0
  mov dword [EXC_VEC], 0xff
  mov dword [EXC_ERR], 0xffffffff
  mov dword [EXC_CR2], 0xffffffff
%endmacro

BEGIN_PM
main:
  PAGE_TABLES 3, P | RW
  mov dword [PTE(2)], 0x202000 | P | RW    ; 0x402000
  mov dword [PTE(3)], 0x203000 | P | RW    ; 0x403000; 0x404000 and 0x405000 absent
  ENABLE_PAGING

  ; --- LOCK MOV EAX, CR0 and LOCK MOV CR0, EAX ---
  CLEAR_EXC
  mov eax, 0x5a5a5a5a
  EXPECT .l1
.i1:
  db 0xf0, 0x0f, 0x20, 0xc0                ; LOCK MOV EAX, CR0
.l1:
  SAVE 5, eax
  SAVE_FAULT 1, .i1
  CLEAR_EXC
  mov eax, cr0
  mov ebx, eax
  or eax, 8                                ; would set CR0.TS
  EXPECT .l2
.i2:
  db 0xf0, 0x0f, 0x22, 0xc0                ; LOCK MOV CR0, EAX
.l2:
  mov eax, cr0
  xor eax, ebx
  SAVE 10, eax
  SAVE_FAULT 6, .i2
  clts

  ; --- RETF imm16 at the same level: the CS checks fault; the new ESP is never accessed ---
  CLEAR_EXC
  mov esp, 0x402ff0
  push dword 0                             ; null CS
  push dword .never
  EXPECT .r1
.i3:
  retf 0x2000                              ; ESP + 8 + 0x2000 = 0x404ff0: absent
.r1:
  SAVE 15, esp
  SAVE_FAULT 11, .i3
  CLEAR_EXC
  mov esp, 0x402ff0
  push dword 0x1f8                         ; beyond the GDT limit
  push dword .never
  EXPECT .r2
.i4:
  retf 0x2000
.r2:
  SAVE 20, esp
  SAVE_FAULT 16, .i4
  CLEAR_EXC
  mov esp, 0x402ff0
  push dword SEL_CODE0                     ; a valid return: no fault although ESP ends absent
  push dword .r3
  retf 0x2000
.r3:
  SAVE 21, esp
  mov esp, KSTACK_TOP
  mov eax, [EXC_VEC]
  SAVE 22, eax

  ; --- CMPS with both operands on absent pages ---
  CLEAR_EXC
  mov esi, 0x404100
  mov edi, 0x405200
  EXPECT .c1
.i5:
  cmpsb
.c1:
  SAVE_FAULT 23, .i5
  CLEAR_EXC
  mov esi, 0x404100
  mov edi, 0x405200
  mov ecx, 4
  EXPECT .c2
.i6:
  repe cmpsd
.c2:
  SAVE_FAULT 27, .i6

  ; --- BOUND: the index below the lower bound, the upper bound on an absent page ---
  mov dword [0x403ffc], 10
  CLEAR_EXC
  mov eax, 9
  EXPECT .b1
.i7:
  bound eax, [0x403ffc]
.b1:
  SAVE_FAULT 31, .i7
  CLEAR_EXC
  mov eax, 11                              ; not below: the upper bound must be read
  EXPECT .b2
.i8:
  bound eax, [0x403ffc]
.b2:
  SAVE_FAULT 35, .i8
  FINISH

.never:
  mov dword [R(40)], 0xbad
  FINISH

COMMON_CODE
GDT_BEGIN
GDT_END
