; 5. Virtual-8086 mode: entry by IRET with VM, paragraph segments, IOPL-sensitive instructions
;    -> #GP(0) with the v86 frame on the ring-0 stack, IRET back, IOPL 3 CLI/STI/PUSHF/POPF,
;    I/O permission bitmap.
%include "common.inc"

%define GPCNT   0x5a0
%define GPERR   0x5c0          ; error codes of the #GPs, 8 entries
%define VM      0x20000
%define IOPL3   0x3000

; IRET into v86 at 0000:%1 with EFLAGS %2, ES = 0x100, the other data segments 0, SS:SP 0:6000
%macro TO_V86 2
  push dword 0                 ; GS
  push dword 0                 ; FS
  push dword 0                 ; DS
  push dword 0x100             ; ES
  push dword 0                 ; SS
  push dword 0x6000            ; ESP
  push dword %2                ; EFLAGS
  push dword 0                 ; CS
  push dword %1                ; EIP
  iretd
%endmacro

BEGIN_PM
main:
  SETGATE 13, v86_gp, GATE_INT
  SETGATE 0x31, dump_handler, GATE_INT3
  and byte [TSS_BASE + 0x68 + 0xe8 / 8], ~(1 << (0xe8 % 8))   ; port 0xE8 allowed
  mov dword [GPCNT], 0
  mov dword [R0CONT], .k1
  TO_V86 v86_1, VM | 2
.k1:
  mov eax, [GPCNT]
  SAVE 5, eax                  ; INT, CLI, OUT 0xE9, HLT
  mov eax, [FRAME]
  SAVE 6, eax                  ; ring-0 ESP at entry: ESP0 - 40
  mov eax, [FRAME + 4]
  SAVE 7, eax                  ; DS in the handler: nulled
%assign i 0
%rep 10
  mov eax, [FRAME + 8 + i * 4]
  SAVE 8 + i, eax              ; error, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS
%assign i i + 1
%endrep
  mov eax, [R(9)]
  sub eax, v86_1.int40
  SAVE 9, eax
  mov eax, [GPERR + 4]
  SAVE 18, eax                 ; CLI -> #GP(0)
  mov eax, [GPERR + 8]
  SAVE 19, eax                 ; OUT to a denied port -> #GP(0)
  movzx eax, word [0x1010]
  SAVE 3, eax                  ; ES:0010 = linear 0x1010

  ; --- IOPL 3 ---
  mov dword [GPCNT], 0
  TO_V86 v86_2, VM | IOPL3 | 2
.k2:
  mov eax, [GPCNT]
  SAVE 25, eax                 ; OUT 0xE9 still checked against the bitmap
  mov eax, [FRAME]
  SAVE 26, eax                 ; INT n at IOPL 3 through the IDT: 9-dword frame
  mov eax, [FRAME + 8]
  sub eax, v86_2.after
  SAVE 27, eax
  mov eax, [FRAME + 16]
  and eax, VM | IOPL3
  SAVE 28, eax
  mov eax, [FRAME + 4]
  and eax, VM
  SAVE 29, eax                 ; the handler runs with VM clear
  mov eax, [FRAME + 28]
  SAVE 30, eax                 ; ES pushed
  FINISH

; #GP from v86: log the error code, dump the first frame, skip the instruction (HLT: leave).
v86_gp:
  push eax
  push ebx
  mov ebx, [ss:GPCNT]
  mov eax, [esp + 8]
  mov [ss:GPERR + ebx * 4], eax
  inc dword [ss:GPCNT]
  test ebx, ebx
  jnz .skip
  lea eax, [esp + 8]
  mov [ss:FRAME], eax
  mov ax, ds
  movzx eax, ax
  mov [ss:FRAME + 4], eax
  mov ebx, 0
.copy:
  mov eax, [esp + 8 + ebx * 4]
  mov [ss:FRAME + 8 + ebx * 4], eax
  inc ebx
  cmp ebx, 10
  jb .copy
.skip:
  movzx eax, word [esp + 16]
  shl eax, 4
  add eax, [esp + 12]
  movzx eax, byte [ss:eax]
  cmp al, 0xf4
  je back_to_ring0
  mov ebx, 2
  cmp al, 0xcd
  je .adv
  cmp al, 0xe6
  je .adv
  mov ebx, 1
.adv:
  add [esp + 12], ebx
  pop ebx
  pop eax
  add esp, 4
  iretd

  bits 16
v86_1:
  mov ax, cs
  movzx eax, ax
  mov [R(1)], eax
  mov ax, es
  movzx eax, ax
  mov [R(2)], eax
  mov word [es:0x10], 0xbeef
.int40:
  int 0x40                     ; IOPL 0 -> #GP(0)
  cli                          ; -> #GP(0)
  mov al, 0x5e
  out 0xe8, al                 ; allowed by the bitmap
  mov al, 0x5f
  out 0xe9, al                 ; denied -> #GP(0)
  mov dword [R(4)], 1          ; came back here after the #GPs
  hlt                          ; -> #GP(0), handler leaves v86

v86_2:
  sti
  pushf
  pop ax
  and ax, 0x200
  mov [R(20)], ax
  cli
  pushf
  pop ax
  and ax, 0x200
  mov [R(21)], ax
  push word 0x0202             ; IF = 1, IOPL field 0
  popf
  pushf
  pop ax
  and ax, 0x3200
  mov [R(22)], ax              ; IF set, IOPL unchanged by POPF in v86
  pushfd
  pop eax
  and eax, VM | IOPL3 | 0x200
  mov [R(23)], eax             ; VM is not visible to PUSHFD (SDM: VM cleared in the image)
  mov al, 0x60
  out 0xe8, al
  out 0xe9, al                 ; denied by the bitmap even at IOPL 3
  mov dword [R(24)], 1
  mov dword [R0CONT], main.k2
  int 0x31                     ; IOPL 3: to the ring-0 handler through the IDT
.after:
  hlt

  bits 32
COMMON_CODE
GDT_BEGIN
GDT_END
