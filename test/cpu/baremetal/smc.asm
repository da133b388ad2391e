; 10. Self-modifying code. The core runs 32-bit code from blocks it decoded earlier
;     (asm-core/cpu/blocks.ts); every way of writing code must reach the next execution of it:
;     a store into the next instruction, a call of patched code, a write through another linear
;     address, REP MOVS, the host's DMA, a store into the translated region that is running, and
;     one page rewritten hundreds of times.
%include "common.inc"

%define PD      0x100000
%define PT0     0x101000            ; identity map of 0..4 MiB
%define PT1     0x102000            ; linear 0x400000: ALIAS
%define ALIAS   0x400000            ; a second linear address of the page holding `patchme`
%define PATCH_PHYS (0x8000 + (patchme - $$))

BEGIN_PM
main:
  SETGATE 0x41, irq41, GATE_INT

  ; --- a store into the very next instruction, three times over the same code ---
  xor ebx, ebx
  mov ecx, 3
.again:
  mov [.imm + 1], cl           ; the imm8 of the MOV below
.imm:
  mov al, 0
  shl ebx, 8
  or bl, al
  dec ecx
  jnz .again
  SAVE 1, ebx

  ; --- code that already ran, patched by a plain store ---
  call patchme
  mov esi, eax
  mov dword [patchme + 1], 0x22222222
  call patchme
  SAVE 2, esi
  SAVE 3, eax

  ; --- patched through another linear address of the same physical page ---
  PAGE_TABLES 3, 3
  mov dword [PT1], PATCH_PHYS | 3
  ENABLE_PAGING
  call patchme                 ; decoded again under paging
  mov dword [ALIAS + 1], 0x33333333
  call patchme
  SAVE 4, eax

  ; --- REP MOVSB copies new code over it ---
  mov esi, template
  mov edi, patchme
  mov ecx, 5
  cld
  rep movsb
  call patchme
  SAVE 5, eax

  ; --- the host writes it (DMA) while the CPU waits for an interrupt ---
  mov dword [R(8)], PATCH_PHYS  ; where the host writes
  sti
  hlt
  cli
  call patchme
  SAVE 6, eax

  ; --- a write into the translation that is running: a loop of two blocks (one JIT region)
  ;     patches the immediate of its own second block on every pass ---
  xor edi, edi
  mov ecx, 50
.loop2:
  mov [.imm2 + 1], ecx
  test ecx, 1
  jz .second                   ; ends the first block; the second is on the same page
.second:
.imm2:
  mov eax, 0
  add edi, eax
  dec ecx
  jnz .loop2
  SAVE 9, edi

  ; --- the page rewritten 300 times: each call must see its own immediate ---
  xor edi, edi
  mov ecx, 300
.many:
  mov [patchme + 1], ecx
  call patchme
  add edi, eax
  dec ecx
  jnz .many
  SAVE 7, edi
  FINISH

irq41:
  iretd

template:
  mov eax, 0x44444444

align 4096
patchme:
  mov eax, 0x11111111
  ret

COMMON_CODE
GDT_BEGIN
GDT_END
