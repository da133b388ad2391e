; 4. Hardware task switches: JMP to a TSS, CALL through a task gate and IRET back, #DF through
;    a task gate, CR0.TS after a switch, #NM with TS (and MP for WAIT), CLTS.
%include "common.inc"

%define SEL_TSS_B   0x40
%define SEL_GATE_C  0x48
%define SEL_TSS_C   0x50
%define SEL_TSS_D   0x58
%define BUSY(sel)   (gdt + (sel) + 5)      ; access byte: type 1001b available, 1011b busy
%define NT          0x4000
%define TSS_EIP     0x20
%define TSS_EFLAGS  0x24
%define TSS_EAX     0x28

%define SEL_TSS_E   0x60
%define SEL_LDT     0x68
%define PD1         0x100000
%define PD2         0x101000

; TSS32 eip, esp[, cr3, ldt]: flat ring-0 segments, I/O map beyond the limit
%macro TSS32 2-4 0, 0
  dd 0, 0, 0, 0, 0, 0, 0                   ; link, ESP0, SS0, ESP1, SS1, ESP2, SS2
  dd %3                                    ; CR3
  dd %1, 2                                 ; EIP, EFLAGS
  dd 0, 0, 0, 0, %2, 0, 0, 0               ; EAX ECX EDX EBX ESP EBP ESI EDI
  dd SEL_DATA0, SEL_CODE0, SEL_DATA0, SEL_DATA0, SEL_DATA0, SEL_DATA0
  dd %4                                    ; LDT
  dw 0, 0x68
%endmacro

BEGIN_PM
main:
  ; --- JMP to a TSS ---
  mov eax, 0x1234
  jmp SEL_TSS_B:0
  mov [R(8)], eax                          ; EAX restored from our TSS
  str ax
  movzx eax, ax
  SAVE 9, eax
  movzx eax, byte [BUSY(SEL_TSS_B)]
  and eax, 2
  SAVE 10, eax
  movzx eax, byte [BUSY(SEL_TSS)]
  and eax, 2
  SAVE 11, eax
  mov eax, cr0
  and eax, 8
  SAVE 12, eax

  ; --- CALL through a task gate, IRET back ---
  jmp .call_c
.call_c:
  call SEL_GATE_C:0
  SAVEFL 17, NT
  movzx eax, byte [BUSY(SEL_TSS_C)]
  and eax, 2
  SAVE 18, eax
  movzx eax, byte [BUSY(SEL_TSS)]
  and eax, 2
  SAVE 19, eax
  mov eax, [tss_c + TSS_EFLAGS]
  and eax, NT
  SAVE 20, eax
  mov eax, [tss_c]
  SAVE 32, eax                             ; C's back link stays

  ; --- CR0.TS -> #NM on x87 instructions; CLTS ---
  mov dword [EXC_CNT], 0
  EXPECT .nm
  fld1
.nm:
  mov eax, [EXC_VEC]
  SAVE 21, eax
  clts
  mov eax, cr0
  and eax, 8
  SAVE 22, eax
  fninit
  fld1
  fistp dword [R(33)]
  mov eax, cr0
  or eax, 8 | 2                            ; TS and MP
  mov cr0, eax
  EXPECT .nm2
  wait
.nm2:
  mov eax, [EXC_VEC]
  SAVE 23, eax
  mov eax, cr0
  and eax, ~2
  mov cr0, eax
  wait                                     ; MP = 0: WAIT ignores TS
  mov eax, [EXC_CNT]
  SAVE 24, eax
  clts

  ; --- CR3 and LDTR come from the new TSS (paging on, 4 MiB pages) ---
  mov dword [PD1], 0x000000 | 0x83
  mov dword [PD1 + 4], 0x400000 | 0x83     ; linear 0x400000 -> physical 0x400000
  mov dword [PD2], 0x000000 | 0x83
  mov dword [PD2 + 4], 0x000000 | 0x83     ; linear 0x400000 -> physical 0
  mov dword [0x403000], 0x1111
  mov dword [0x3000], 0x2222
  mov dword [TSS_BASE + 0x1c], PD1         ; CR3 is not saved by a switch: the TSS must hold it
  mov eax, cr4
  or eax, 0x10
  mov cr4, eax
  mov eax, PD1
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  jmp SEL_TSS_E:0
  mov eax, [0x403000]
  SAVE 40, eax
  mov eax, cr3
  SAVE 41, eax
  sldt ax
  movzx eax, ax
  SAVE 42, eax                             ; our TSS has no LDT
  mov eax, cr0
  and eax, 0x7fffffff
  mov cr0, eax
  mov dword [TSS_BASE + 0x1c], 0

  ; --- #DF through a task gate: #GP whose IDT gate is not present -> #NP -> #DF ---
  mov edi, IDT_BASE + 8 * 8
  mov dword [edi], SEL_TSS_D << 16
  mov dword [edi + 4], 0x8500              ; P, DPL 0, task gate
  mov byte [IDT_BASE + 13 * 8 + 5], 0x0e   ; #GP gate not present
  mov ax, 0x1000                           ; beyond the GDT limit
.df_insn:
  mov ds, ax
.after_df:
  mov ax, SEL_DATA0
  mov ds, ax
  SAVE 29, 1
  FINISH

task_b:
  str ax
  movzx eax, ax
  SAVE 1, eax
  mov eax, cr0
  and eax, 8
  SAVE 2, eax
  SAVEFL 3, NT
  movzx eax, byte [BUSY(SEL_TSS)]
  and eax, 2
  SAVE 4, eax
  movzx eax, byte [BUSY(SEL_TSS_B)]
  and eax, 2
  SAVE 5, eax
  mov eax, [tss_b]
  SAVE 6, eax
  mov eax, [TSS_BASE + TSS_EAX]
  SAVE 7, eax
  jmp SEL_TSS:0

task_c:
  SAVEFL 13, NT
  mov eax, [tss_c]
  SAVE 14, eax
  movzx eax, byte [BUSY(SEL_TSS)]
  and eax, 2
  SAVE 15, eax
  movzx eax, byte [BUSY(SEL_TSS_C)]
  and eax, 2
  SAVE 16, eax
  iretd

task_e:                                    ; runs on PD2 with an LDT
  mov eax, [0x403000]
  SAVE 36, eax
  mov eax, cr3
  SAVE 37, eax
  sldt ax
  movzx eax, ax
  SAVE 38, eax
  jmp SEL_TSS:0

task_d:                                    ; the double-fault task
  SAVE 30, esp
  pop eax
  SAVE 25, eax                             ; #DF error code
  mov eax, [tss_d]
  SAVE 26, eax
  str ax
  movzx eax, ax
  SAVE 27, eax
  SAVEFL 28, NT
  mov eax, [TSS_BASE + TSS_EIP]
  sub eax, main.df_insn
  SAVE 31, eax                             ; the faulting EIP was saved in the main TSS
  mov dword [TSS_BASE + TSS_EIP], main.after_df
  iretd

COMMON_CODE
  align 16
tss_b: TSS32 task_b, 0x34000
tss_c: TSS32 task_c, 0x36000
tss_d: TSS32 task_d, 0x38000
tss_e: TSS32 task_e, 0x3a000, PD2, SEL_LDT
GDT_BEGIN
  DESC ABS(tss_b), 0x67, ACC_TSS, 0             ; 0x40
  dw 0, SEL_TSS_C, 0x8500, 0               ; 0x48 task gate -> C
  DESC ABS(tss_c), 0x67, ACC_TSS, 0             ; 0x50
  DESC ABS(tss_d), 0x67, ACC_TSS, 0             ; 0x58
  DESC ABS(tss_e), 0x67, ACC_TSS, 0             ; 0x60
  DESC 0x22000, 0x17, 0x82, 0                   ; 0x68 LDT
GDT_END
