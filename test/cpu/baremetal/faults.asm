; 18. Many faults whose handlers fix the cause and return, as an OS's demand paging does. Each
;     round unmaps GROUPS * PAGES pages and takes, per page index, a #PF for a read (ADD), a read
;     by an x87 instruction (FIADD), a write by a string instruction (STOSD), a read-modify-write
;     (ADD to memory), a byte read (MOVZX), a byte write (MOV), and a REP MOVSD whose second
;     dword faults (ECX, ESI and EDI must be those of the first, done, iteration), and a #UD
;     (UD2) that its handler steps over: the #PF handler maps the page and the instruction
;     restarts. The core throws the fault and catches it around its run loop
;     (asm-core/cpu/fault.ts), or, in the block loop's handlers of these forms, records it and
;     leaves the loop (asm-core/mmu/access.ts readLinOrRecord); handlers called by translated
;     code throw it.
;     bench/faults.mjs times it with more ROUNDS.
%include "common.inc"

%ifndef ROUNDS
%define ROUNDS  2
%endif
%define PAGES   16
%define GROUPS  7                   ; of PAGES pages each, one per faulting form
%define SRC     0x300000            ; REP MOVSD's source, identity-mapped
%define PD      0x100000
%define PT0     0x101000            ; identity map of 0..4 MiB
%define PT1     0x102000            ; linear LIN..: the demand-paged pages, none mapped at first
%define LIN     0x400000
%define PHYS    0x200000            ; their physical pages: linear LIN + k * 4 KiB -> PHYS + k * 4 KiB
%define P       1
%define RW      2

BEGIN_PM
main:
  ; Physical page k holds k + 1.
  mov edi, PHYS
  mov eax, 1
.fill:
  mov [edi], eax
  add edi, 0x1000
  inc eax
  cmp eax, GROUPS * PAGES
  jbe .fill
  PAGE_TABLES 3, P | RW
  ENABLE_PAGING
  SETGATE 6, ud_handler, GATE_INT
  SETGATE 14, pf_handler, GATE_INT
  fninit
  fldz
  xor edx, edx
  cld
  mov esi, ROUNDS
.round:
  mov edi, PT1                     ; unmap them all: this round faults on each again
  xor eax, eax
  mov ecx, GROUPS * PAGES
  rep stosd
  mov eax, cr3
  mov cr3, eax
  xor ebx, ebx                     ; page index
.page:
  mov eax, ebx
  shl eax, 12
  add edx, [LIN + eax]                              ; #PF: read
  fiadd dword [LIN + PAGES * 0x1000 + eax]          ; #PF: x87 read
  lea edi, [LIN + 2 * PAGES * 0x1000 + eax]
  lea eax, [ebx + 0xfeed0000]
  stosd                                             ; #PF: string write
  mov eax, ebx
  shl eax, 12
  add dword [LIN + 3 * PAGES * 0x1000 + eax], 0x100 ; #PF: read-modify-write
  movzx ecx, byte [LIN + 4 * PAGES * 0x1000 + eax]  ; #PF: byte read
  add [R(7)], ecx
  mov [LIN + 5 * PAGES * 0x1000 + eax + 1], bl      ; #PF: byte write
  mov dword [SRC], 0xa1a1a1a1
  mov [SRC + 4], ebx
  lea edi, [LIN + 6 * PAGES * 0x1000 + eax - 4]     ; the last dword of the page before
  push esi
  mov esi, SRC
  mov ecx, 2
  rep movsd                                         ; #PF on the second dword
  pop esi
  ud2                                               ; #UD
  inc ebx
  cmp ebx, PAGES
  jb .page
  dec esi
  jnz .round
  SAVE 3, edx
  fistp dword [R(4)]
  mov eax, [PHYS + (3 * PAGES - 1) * 0x1000]        ; the last STOSD, read through the identity map
  SAVE 6, eax
  mov ecx, PHYS + 3 * PAGES * 0x1000
  call sum_group
  SAVE 8, edx
  mov ecx, PHYS + 5 * PAGES * 0x1000
  call sum_group
  SAVE 9, edx
  mov ecx, PHYS + 6 * PAGES * 0x1000
  call sum_group
  SAVE 10, edx
  FINISH

; EDX = the first dwords of the PAGES physical pages from ECX, summed (through the identity map).
sum_group:
  xor edx, edx
  xor ebx, ebx
.next:
  add edx, [ecx + ebx]
  add ebx, 0x1000
  cmp ebx, PAGES * 0x1000
  jb .next
  ret

; #PF: map the page at CR2 (slot 1 counts, slot 5 keeps the error code); the instruction restarts.
pf_handler:
  push eax
  push ebx
  mov eax, [esp + 8]
  SAVE 5, eax
  mov eax, cr2
  sub eax, LIN
  shr eax, 12
  mov ebx, eax
  shl ebx, 12
  add ebx, PHYS | P | RW
  mov [PT1 + eax * 4], ebx
  inc dword [R(1)]
  pop ebx
  pop eax
  add esp, 4                       ; the error code
  iretd

; #UD: step over the UD2 (slot 2 counts).
ud_handler:
  add dword [esp], 2
  inc dword [R(2)]
  iretd

COMMON_CODE
GDT_BEGIN
GDT_END
