; 8. External interrupts: INTR held while IF = 0, the STI shadow, HLT woken by INTR (the test
;    asserts INTR when run() returns 'hlt'), NMI with IF = 0 and NMI blocking until IRET.
%include "common.inc"

%define MARK      0x5a0
%define IRQCNT    0x5a4
%define IRQMARK   0x5a8
%define IRQEIP    0x5ac
%define IRQEFL    0x5b0
%define IRQIF     0x5b4
%define IRQVEC    0x5b8
%define NMICNT    0x5bc
%define NMIEIP    0x5c0
%define NMIINNER  0x5c4

BEGIN_PM
main:
  SETGATE 0x40, irq40, GATE_INT
  SETGATE 0x41, irq41, GATE_INT
  SETGATE 2, nmi_handler, GATE_INT
  xor eax, eax
  mov [MARK], eax
  mov [IRQCNT], eax
  mov [NMICNT], eax

  ; --- INTR held while IF = 0, then the STI shadow ---
  cli
  mov al, 0x40
  out 0xe1, al
  mov al, 3
  out 0xe0, al                 ; INTR asserted
  nop
  nop
  mov eax, [IRQCNT]
  SAVE 1, eax
  sti
  mov dword [MARK], 1          ; runs before the interrupt (STI shadow)
.after:
  mov dword [MARK], 2
  mov eax, [IRQCNT]
  SAVE 2, eax
  mov eax, [IRQMARK]
  SAVE 3, eax
  mov eax, [IRQEIP]
  sub eax, .after
  SAVE 4, eax
  mov eax, [IRQIF]
  and eax, 0x200
  SAVE 5, eax                  ; interrupt gate: IF clear in the handler
  mov eax, [IRQEFL]
  and eax, 0x200
  SAVE 6, eax                  ; pushed EFLAGS had IF
  mov eax, [IRQVEC]
  SAVE 7, eax                  ; the vector from the acknowledge cycle

  ; --- HLT with IF = 1: run() returns 'hlt'; the test raises INTR (vector 0x41) ---
  mov dword [IRQCNT], 0
  hlt
.after_hlt:
  mov eax, [IRQCNT]
  SAVE 8, eax
  mov eax, [IRQEIP]
  sub eax, .after_hlt
  SAVE 9, eax                  ; return address = after HLT
  mov eax, [IRQVEC]
  SAVE 10, eax

  ; --- NMI: delivered with IF = 0; a second NMI waits for IRET ---
  cli
  mov al, 4
  out 0xe0, al
.after_nmi:
  nop
  mov eax, [NMICNT]
  SAVE 11, eax
  mov eax, [NMIINNER]
  SAVE 12, eax
  mov eax, [NMIEIP]
  sub eax, .after_nmi
  SAVE 13, eax

  ; --- HLT with IF = 0: INTR does not wake it, NMI does (the test drives the pins) ---
  mov dword [NMICNT], 10       ; no nested NMI this time
  mov dword [IRQCNT], 0
  hlt
.after_hlt2:
  mov eax, [NMICNT]
  SAVE 14, eax
  mov eax, [NMIEIP]
  sub eax, .after_hlt2
  SAVE 15, eax
  mov eax, [IRQCNT]
  SAVE 16, eax
  FINISH

irq40:
  mov dword [IRQVEC], 0x40
  jmp irq_common
irq41:
  mov dword [IRQVEC], 0x41
irq_common:
  push eax
  inc dword [IRQCNT]
  mov eax, [MARK]
  mov [IRQMARK], eax
  mov eax, [esp + 4]
  mov [IRQEIP], eax
  mov eax, [esp + 12]
  mov [IRQEFL], eax
  pushfd
  pop eax
  mov [IRQIF], eax
  pop eax
  iretd

nmi_handler:
  push eax
  inc dword [NMICNT]
  mov eax, [esp + 4]
  mov [NMIEIP], eax
  cmp dword [NMICNT], 1
  jne .out
  mov al, 4
  out 0xe0, al                 ; NMI while in the NMI handler: held
  nop
  nop
  mov eax, [NMICNT]
  mov [NMIINNER], eax
.out:
  pop eax
  iretd

COMMON_CODE
GDT_BEGIN
GDT_END
