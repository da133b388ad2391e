; 17. The physical memory map: RAM, ROM and MMIO pages. The host declares them before the
;     program starts (Core.setMemoryKind; see baremetal.test.ts): ROM_PAGE is ROM holding the
;     host's image (ROM_WORD at offset 0, ROM_BYTE at 4, a routine at 0x100), MMIO_PAGE is MMIO,
;     and the page below ROM_PAGE is RAM. A PC's ROM ignores writes: the bytes stay the image.
%include "common.inc"

%define ROM_PAGE   0x300000
%define MMIO_PAGE  0x302000

BEGIN_PM
main:
  mov eax, [ROM_PAGE]
  SAVE 1, eax                          ; the image
  mov dword [ROM_PAGE], 0xdeadbeef
  mov eax, [ROM_PAGE]
  SAVE 2, eax                          ; a dword store changed nothing
  mov byte [ROM_PAGE + 4], 0x55
  movzx eax, byte [ROM_PAGE + 4]
  SAVE 3, eax                          ; nor a byte store
  mov edi, ROM_PAGE + 8
  mov ecx, 4
  mov eax, 0x66666666
  cld
  rep stosd
  mov eax, [ROM_PAGE + 12]
  SAVE 4, eax                          ; nor REP STOSD
  add dword [ROM_PAGE], 1
  mov eax, [ROM_PAGE]
  SAVE 5, eax                          ; nor a read-modify-write
  mov dword [ROM_PAGE - 2], 0x77778888 ; half in the RAM page below, half in ROM
  mov eax, [ROM_PAGE - 4]
  SAVE 6, eax                          ; the RAM half was written
  mov eax, [ROM_PAGE]
  SAVE 7, eax                          ; the ROM half was not
  call ROM_PAGE + 0x100                ; code runs from ROM
  SAVE 8, eax
  mov eax, [MMIO_PAGE + 0x10]
  SAVE 9, eax                          ; MMIO reads come from the host
  mov dword [MMIO_PAGE + 0x20], 0x12345678
  mov ecx, 200                         ; a hot loop storing into ROM (translated by the JIT)
.l:
  mov [ROM_PAGE + 0x40], ecx
  dec ecx
  jnz .l
  mov eax, [ROM_PAGE + 0x40]
  SAVE 10, eax
  FINISH

COMMON_CODE
GDT_BEGIN
GDT_END
