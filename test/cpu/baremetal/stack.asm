; 12. The stack pointer across a stack-size change and at the end of ENTER: POP SS moves ESP by
;     the stack size it started with; ENTER checks every push, every frame-pointer read and the
;     final stack pointer (segment limit and page) before it changes anything.
%include "common.inc"

%define PD        0x100000
%define PT0       0x101000            ; identity map of 0..4 MiB, user, writable
%define PT1       0x102000            ; linear 0x400000..0x7fffff: the test pages
%define P         1
%define RW        2
%define US        4
%define PTE(n)    (PT1 + (n) * 4)     ; PTE of linear 0x400000 + n * 4 KiB
%define SEL_SS16B 0x40                ; 16-bit data, base 0x400000, limit 0xffff, DPL 0
%define MARK      0x5a5a5a5a

; Save the #PF outcome of the last EXPECTed fault and the registers ENTER must not have
; changed into slots %1.. (vector, error code, CR2, EBP, ESP). CPL 3 may write the slots.
%macro SAVEFAULT 1
  mov eax, [EXC_VEC]
  mov [R(%1)], eax
  mov eax, [EXC_ERR]
  mov [R(%1 + 1)], eax
  mov eax, [EXC_CR2]
  mov [R(%1 + 2)], eax
  mov [R(%1 + 3)], ebp
  mov [R(%1 + 4)], esp
%endmacro

BEGIN_PM
main:
  ; --- POP SS: ESP moves by the stack size at the start of the instruction ---
  mov dword [0xfffc], SEL_DATA0            ; 32-bit pop from a 16-bit stack at SP = 0xfffc
  mov ax, SEL_DATA16
  mov ss, ax
  mov esp, 0x0002fffc
  pop ss                                   ; new SS: B = 1
  SAVE 1, esp
  mov word [0xfffe], SEL_DATA0             ; 16-bit pop at SP = 0xfffe
  mov ax, SEL_DATA16
  mov ss, ax
  mov esp, 0x0002fffe
  o16 pop ss
  SAVE 2, esp
  mov esp, 0x0002fffc                      ; 32-bit stack popping a B = 0 selector
  mov dword [esp], SEL_DATA16
  pop ss
  SAVE 3, esp
  mov ax, SEL_DATA0
  mov ss, ax
  mov esp, KSTACK_TOP

  ; --- paging: the pages ENTER pushes into ---
  PAGE_TABLES 3, P | RW | US
  mov dword [PTE(0)], 0x200000 | P | RW | US   ; 0x400000 user
  mov dword [PTE(1)], 0x201000 | P | RW        ; 0x401000 supervisor
  mov dword [PTE(2)], 0x202000 | P | RW | US   ; 0x402000 user
  mov dword [PTE(4)], 0x204000 | P | RW | US   ; 0x404000 user; 0x403000 and 0x405000.. absent
  ENABLE_PAGING
  mov dword [0x402000], MARK
  mov dword [0x404000], MARK
  mov dword [0x404004], MARK
  mov dword [0x404008], MARK
  mov dword [0x40400c], MARK
  mov dword [0x404100 - 4], 0x1111         ; outer frame pointers for the nested ENTER
  mov dword [0x404100 - 8], 0x2222

  ; --- ENTER at CPL 3 ---
  mov dword [R0CONT], .back0
  TO_RING3 .user
.user:
  ; level 0: EBP lands in a user page, the final ESP in a supervisor page
  mov ebp, 0x12345678
  mov esp, 0x402004
  EXPECT .e1
  enter 1, 0
.e1:
  SAVEFAULT 10
  mov eax, [0x402000]
  mov [R(15)], eax                         ; the push of EBP did not happen
  ; level 3: all pushes in a user page, the final ESP in a not-present page
  mov ebp, 0x404100
  mov esp, 0x404010
  EXPECT .e2
  enter 8, 3
.e2:
  SAVEFAULT 16
  mov eax, [0x404000]
  and eax, [0x404004]
  and eax, [0x404008]
  and eax, [0x40400c]
  mov [R(21)], eax                         ; none of the four pushes happened
  ; order: the push of EBP faults before the final stack pointer is checked
  mov ebp, 0x12345678
  mov esp, 0x407000
  EXPECT .e3
  enter 0x1000, 0                          ; push at 0x406ffc, final ESP 0x405ffc: both absent
.e3:
  SAVEFAULT 22
  ; order: the read of the outer frame pointer faults before the final stack pointer
  mov ebp, 0x403004                        ; [EBP - 4] in the absent page 0x403000
  mov esp, 0x402010
  EXPECT .e4
  enter 0x10, 2                            ; final ESP 0x401ff4: supervisor
.e4:
  SAVEFAULT 27
  int 0x30

.back0:
  ; --- ENTER on a 16-bit stack (CPL 0): the final SP wraps into an absent page ---
  mov ax, SEL_SS16B
  mov ss, ax
  mov ebp, 0x12345678
  mov esp, 0x104                           ; (the #PF frame goes on this stack: ESP < 64 KiB)
  EXPECT .e5
  enter 0x200, 1                           ; pushes at SP 0x100, 0xfc; final SP 0xfefc
.e5:
  SAVEFAULT 32
  mov ax, SEL_DATA0
  mov ss, ax
  mov esp, KSTACK_TOP

  ; --- ENTER that completes: the frame it builds ---
  mov dword [0x2f000 - 4], 0x1111
  mov dword [0x2f000 - 8], 0x2222
  mov ebp, 0x2f000
  mov esp, 0x2e000
  enter 0x20, 3
  SAVE 37, ebp
  SAVE 38, esp
  mov eax, [0x2dffc]
  SAVE 39, eax                             ; the old EBP
  mov eax, [0x2dff8]
  SAVE 40, eax                             ; outer frame pointers, nearest first
  mov eax, [0x2dff4]
  SAVE 41, eax
  mov eax, [0x2dff0]
  SAVE 42, eax                             ; FrameTemp
  mov esp, KSTACK_TOP
  FINISH

COMMON_CODE
GDT_BEGIN
  DESC 0x400000, 0xffff, ACC_DATA0, 0      ; 0x40 16-bit stack at 0x400000
GDT_END
