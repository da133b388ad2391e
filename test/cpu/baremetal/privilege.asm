; 3. Privilege transitions: IRET/RETF to ring 3, interrupt and trap gates with the TSS stack
;    switch, error-code frames, call gate with parameters, gate DPL check, data segments nulled
;    on return to an outer ring, conforming code segments.
%include "common.inc"

%define SEL_CALLGATE  0x40
%define SEL_CONFORM   0x48
%define FL_USER       0xad5                ; CF PF AF ZF SF OF IF, for a known pushed EFLAGS

BEGIN_PM
main:
  SETGATE 13, dump_handler, GATE_INT
  SETGATE 0x31, dump_handler, GATE_INT3
  SETGATE 0x32, dump_handler, GATE_TRAP3
  SETGATE 0x33, dump_handler, GATE_INT     ; DPL 0: INT 0x33 from ring 3 -> #GP

  ; --- IRET to ring 3, INT through a DPL-3 interrupt gate back to ring 0 ---
  sti                                      ; (no interrupt source is wired) IF=1 in ring 3
  mov dword [R0CONT], .k1
  TO_RING3 .u1
.u1:
  mov ax, cs
  movzx eax, ax
  mov [R(1)], eax
  mov ax, ss
  movzx eax, ax
  mov [R(2)], eax
  push dword FL_USER
  popfd
  int 0x31
.u1_ret:
.k1:
  mov eax, [FRAME]
  SAVE 3, eax                              ; ring-0 ESP at entry: ESP0 - 20
  mov eax, [FRAME + 4]
  and eax, 0x200
  SAVE 4, eax                              ; interrupt gate: IF cleared
  mov eax, [FRAME + 8]
  sub eax, .u1_ret
  SAVE 5, eax                              ; EIP pushed = next instruction
  mov eax, [FRAME + 12]
  SAVE 6, eax                              ; CS
  mov eax, [FRAME + 16]
  SAVE 7, eax                              ; EFLAGS
  mov eax, [FRAME + 20]
  SAVE 8, eax                              ; ESP
  mov eax, [FRAME + 24]
  SAVE 9, eax                              ; SS
  mov ax, ss
  movzx eax, ax
  SAVE 10, eax                             ; SS0 from the TSS

  ; --- trap gate: IF stays set ---
  sti
  mov dword [R0CONT], .k2
  TO_RING3 .u2
.u2:
  int 0x32
.k2:
  mov eax, [FRAME + 4]
  and eax, 0x200
  SAVE 11, eax

  ; --- #GP with an error code from ring 3: loading a DPL-0 data segment ---
  mov dword [R0CONT], .k3
  TO_RING3 .u3
.u3:
  mov ax, SEL_DATA0
.u3_fault:
  mov ds, ax
.k3:
  mov eax, [FRAME]
  SAVE 12, eax                             ; ESP0 - 24 (error code too)
  mov eax, [FRAME + 8]
  SAVE 13, eax                             ; error code = selector
  mov eax, [FRAME + 12]
  sub eax, .u3_fault
  SAVE 14, eax                             ; faulting instruction
  mov eax, [FRAME + 16]
  SAVE 15, eax                             ; CS
  mov eax, [FRAME + 24]
  SAVE 16, eax                             ; ESP
  mov eax, [FRAME + 28]
  SAVE 17, eax                             ; SS

  ; --- INT n through a DPL-0 gate from ring 3 -> #GP(n * 8 + 2) ---
  mov dword [R0CONT], .k4
  TO_RING3 .u4
.u4:
  int 0x33
.k4:
  mov eax, [FRAME + 8]
  SAVE 18, eax

  ; --- a 16-bit interrupt gate from ring 3: a 16-bit frame (IP CS FLAGS SP SS) on the ring-0 stack ---
  mov edi, IDT_BASE + 0x34 * 8
  mov eax, dump_handler
  mov [edi], ax
  mov word [edi + 2], SEL_CODE0
  mov dword [edi + 4], 0xe600               ; P, DPL 3, 16-bit interrupt gate
  mov dword [R0CONT], .k8
  TO_RING3 .u8
.u8:
  mov esp, 0x3ff00
  int 0x34
.u8_ret:
.k8:
  mov eax, [FRAME]
  SAVE 41, eax
  movzx eax, word [FRAME + 8]
  sub eax, .u8_ret
  SAVE 42, eax                             ; IP
  movzx eax, word [FRAME + 10]
  SAVE 43, eax                             ; CS
  movzx eax, word [FRAME + 14]
  SAVE 44, eax                             ; SP
  movzx eax, word [FRAME + 16]
  SAVE 45, eax                             ; SS

  ; --- I/O permission at CPL 3 (protected mode): IOPL, then the TSS bitmap ---
  and byte [TSS_BASE + 0x68 + 0xe8 / 8], ~(1 << (0xe8 % 8))   ; port 0xE8 allowed
  mov dword [R0CONT], .k9
  TO_RING3 .u9
.u9:
  mov eax, 0x11
  out 0xe8, al                             ; allowed by the bitmap
  mov [R(46)], eax
  mov ax, 0x2222
.u9_fault:
  out 0xe8, ax                             ; word: needs 0xE9 too -> #GP(0)
.k9:
  mov eax, [FRAME + 8]
  SAVE 47, eax
  mov eax, [FRAME + 12]
  sub eax, .u9_fault
  SAVE 48, eax
  mov dword [R0CONT], .k10
  pushfd
  or dword [esp], 0x3000                    ; IOPL 3: no bitmap check
  popfd
  TO_RING3 .u10
.u10:
  mov eax, 0x33
  out 0xe9, al
  mov [R(49)], eax
  int 0x30
.k10:
  pushfd
  and dword [esp], ~0x3000
  popfd

  ; --- RETF to ring 3; data segments with DPL < 3 are nulled, conforming code kept ---
  mov ax, SEL_DATA0
  mov es, ax
  mov gs, ax
  mov ax, SEL_DATA3
  mov ds, ax
  mov ax, SEL_CONFORM
  mov fs, ax
  push dword SEL_DATA3
  push dword USTACK_TOP - 0x100
  push dword SEL_CODE3
  push dword .u5
  retf
.u5:
  mov ax, cs
  movzx eax, ax
  mov [R(19)], eax
  mov ax, ss
  movzx eax, ax
  mov [R(20)], eax
  mov [R(21)], esp
  mov ax, es
  movzx eax, ax
  mov [R(22)], eax                         ; nulled
  mov ax, gs
  movzx eax, ax
  mov [R(23)], eax                         ; nulled
  mov ax, ds
  movzx eax, ax
  mov [R(24)], eax                         ; kept
  mov ax, fs
  movzx eax, ax
  mov [R(25)], eax                         ; conforming code: kept
  mov eax, [fs:R(1)]                       ; and readable through FS at CPL 3
  mov [R(26)], eax
  mov ax, SEL_DATA3
  mov es, ax

  ; --- call gate with 2 parameters ---
  push dword 0x1111
  push dword 0x2222
  call (SEL_CALLGATE | 3):0
.u6_ret:
  mov [R(35)], esp                         ; RETF 8 released the parameters on this stack
  mov ax, cs
  movzx eax, ax
  mov [R(36)], eax

  ; --- conforming code: CPL stays 3 ---
  call SEL_CONFORM:conf_target
  ; far CALL to non-conforming DPL-0 code -> #GP(selector)
  mov dword [R0CONT], .k7
  call SEL_CODE0:cg_target
.k7:
  mov eax, [FRAME + 8]
  SAVE 39, eax
  mov eax, [FRAME + 16]
  SAVE 40, eax                             ; the fault came from ring 3
  FINISH

cg_target:                                 ; ring 0 through the call gate
  mov [R(27)], esp
  mov eax, [esp]
  sub eax, main.u6_ret
  mov [R(28)], eax
  mov eax, [esp + 4]
  mov [R(29)], eax                         ; caller CS
  mov eax, [esp + 8]
  mov [R(30)], eax                         ; parameters, in caller order
  mov eax, [esp + 12]
  mov [R(31)], eax
  mov eax, [esp + 16]
  mov [R(32)], eax                         ; caller ESP
  mov eax, [esp + 20]
  mov [R(33)], eax                         ; caller SS
  mov ax, cs
  movzx eax, ax
  mov [R(34)], eax
  retf 8

conf_target:
  mov ax, cs
  movzx eax, ax
  mov [R(37)], eax                         ; RPL field = CPL 3
  mov ax, ss
  movzx eax, ax
  mov [R(38)], eax                         ; no stack switch
  retf

COMMON_CODE
GDT_BEGIN
  CGATE cg_target, SEL_CODE0, 0xec, 2      ; 0x40 call gate, DPL 3, 2 dwords
  DESC 0, 0xfffff, 0x9f, 0xc               ; 0x48 conforming code, readable, DPL 0
GDT_END
