// Tiny i386 "kernels" for the Machine tests: nasm source with a few shared routines, linked as
// an ELF at 1 MiB so the boot loader takes them like a vmlinux.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** putc (AL) on COM1 polling THRE, puthex (EAX, 8 digits), setgate, initpic; an IDT at 0x80000. */
const HEAD = `
bits 32
global start
section .text
%macro OUTB 2
  mov al, %2
  out %1, al
%endmacro
putc:                       ; AL -> COM1
  push edx
  push eax
  mov dx, 0x3fd
.w: in al, dx
  test al, 0x20             ; LSR.THRE
  jz .w
  pop eax
  mov dx, 0x3f8
  out dx, al
  pop edx
  ret
puthex:                     ; EAX as 8 hex digits and a newline
  push ecx
  push ebx
  mov ebx, eax
  mov ecx, 8
.d: rol ebx, 4
  mov al, bl
  and al, 15
  add al, '0'
  cmp al, '9'
  jbe .p
  add al, 'a' - '0' - 10
.p: call putc
  loop .d
  mov al, 10
  call putc
  pop ebx
  pop ecx
  ret
setgate:                    ; vector ECX -> handler EAX, interrupt gate, selector 0x10
  lea edx, [0x80000 + ecx * 8]
  mov [edx], ax
  mov word [edx + 2], 0x10
  mov word [edx + 4], 0x8e00
  shr eax, 16
  mov [edx + 6], ax
  ret
initpic:                    ; vectors 0x20 / 0x28, all masked
  OUTB 0x20, 0x11
  OUTB 0x21, 0x20
  OUTB 0x21, 0x04
  OUTB 0x21, 0x01
  OUTB 0xa0, 0x11
  OUTB 0xa1, 0x28
  OUTB 0xa1, 0x02
  OUTB 0xa1, 0x01
  OUTB 0x21, 0xff
  OUTB 0xa1, 0xff
  lidt [idtr]
  ret
`;

/** poweroff ("cli; hlt" forever), the IDT register image, and the entry with a stack. */
const TAIL = `poweroff:
  cli
.h: hlt
  jmp .h
idtr: dw 0x7ff
      dd 0x80000
start:
  mov esp, 0x90000
`;

/** Assemble and link `routines` (extra shared code) and `body` (the program after `start:`) in `dir`. */
export function assembleTinyKernel(dir: string, name: string, routines: string, body: string): Uint8Array {
  const src = join(dir, `${name}.asm`);
  const obj = join(dir, `${name}.o`);
  const elf = join(dir, `${name}.elf`);
  writeFileSync(src, HEAD + routines + TAIL + body);
  execFileSync('nasm', ['-f', 'elf32', src, '-o', obj]);
  execFileSync('ld', ['-m', 'elf_i386', '-N', '--no-warn-rwx-segments', '-Ttext=0x100000', '-e', 'start', '-o', elf, obj]);
  return new Uint8Array(readFileSync(elf));
}
