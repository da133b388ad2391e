; 1. Real mode -> protected mode -> real mode, unreal mode, 16/32-bit code segments, A20.
%include "common.inc"

  bits 16
  org 0x8000
start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7000
  ; Real-mode #GP goes through the IVT: vector 13 -> rm_gp.
  mov word [13 * 4], rm_gp
  mov word [13 * 4 + 2], 0
  mov eax, cr0
  and eax, 1
  SAVE 1, eax                        ; PE clear at start
  mov dword [0x3000], 0x11111111

  ; --- into protected mode ---
  o32 lgdt [gdt_ptr]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword SEL_CODE0:pm32
  bits 32
pm32:
  mov ax, SEL_DATA0
  mov ds, ax
  mov ss, ax
  mov esp, 0x7000
  mov ax, cs
  movzx eax, ax
  SAVE 2, eax                        ; CS = 0x08 after the far JMP
  mov dword [0x200000], 0xcafebabe   ; above 1 MiB through the 4 GiB data segment
  mov ebx, esp
  db 0x6a, 0x00                      ; PUSH imm8: operand size from CS.D
  sub ebx, esp
  SAVE 3, ebx                        ; 4 in a 32-bit code segment
  pop eax
  jmp SEL_CODE16:pm16
  bits 16
pm16:
  mov ebx, esp
  db 0x6a, 0x00
  sub ebx, esp
  SAVE 4, ebx                        ; 2 in a 16-bit code segment
  pop ax
  mov ax, cs
  movzx eax, ax
  SAVE 5, eax                        ; CS = 0x30
  ; 32-bit operand override in the 16-bit segment still works
  mov eax, 0x12345678
  SAVE 6, eax
  ; --- back to real mode: clear PE, far jump reloads CS ---
  mov eax, cr0
  and al, 0xfe
  mov cr0, eax
  jmp 0:rm2
rm2:
  xor ax, ax
  mov ss, ax
  mov sp, 0x7000
  mov eax, cr0
  and eax, 1
  SAVE 7, eax                        ; PE clear again
  mov ax, cs
  movzx eax, ax
  SAVE 8, eax                        ; CS = 0 (real-mode far JMP)
  ; DS was not reloaded: its cached 4 GiB limit stays (unreal mode)
  mov esi, 0x200000
  mov eax, [esi]
  SAVE 9, eax
  mov dword [esi + 4], 0x5a5a5a5a    ; write above 1 MiB in real mode
  ; ES still has its real-mode 64 KiB limit: a 32-bit offset beyond it -> #GP via the IVT
  mov dword [rm_gp_count], 0
  mov ebx, 0x10000
gp_insn:
  mov eax, [es:ebx]
after_gp:
  mov eax, [rm_gp_count]
  SAVE 10, eax
  movzx eax, word [rm_gp_ip]
  sub eax, gp_insn
  SAVE 11, eax                        ; pushed IP - faulting instruction

  ; --- A20: FFFF:3010 is linear 0x103000 ---
  mov ax, 0xffff
  mov es, ax
  mov al, 1
  out 0xe0, al                        ; A20 gate closed
  mov dword [es:0x3010], 0x22222222   ; wraps to 0x3000
  mov eax, [0x3000]
  SAVE 12, eax
  mov eax, [esi + 4]                  ; 0x200004 has bit 20 clear: unaffected by the gate
  SAVE 13, eax
  mov dword [dword 0x103000], 0x44444444   ; unreal DS, 32-bit address: also wraps to 0x3000
  mov eax, [0x3000]
  SAVE 14, eax
  mov al, 2
  out 0xe0, al                        ; A20 gate open
  mov dword [es:0x3010], 0x33333333   ; really 0x103000 now
  mov eax, [0x3000]
  SAVE 15, eax
  mov eax, [dword 0x103000]
  SAVE 16, eax
  mov eax, [es:0x3010]
  SAVE 17, eax
  xor ax, ax
  mov es, ax
  ; A20 closed, an odd-megabyte address: 0x300000 -> 0x200000
  mov al, 1
  out 0xe0, al
  mov eax, [dword 0x300000]
  SAVE 18, eax
  mov al, 2
  out 0xe0, al
  ; Re-enter protected mode once more and come back with a 16-bit data segment in DS: the
  ; limit is 64 KiB again (still 'unreal' rules: the cache is what counts).
  o32 lgdt [gdt_ptr]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp SEL_CODE16:pm16b
pm16b:
  mov ax, SEL_DATA16
  mov ds, ax
  mov eax, cr0
  and al, 0xfe
  mov cr0, eax
  jmp 0:rm3
rm3:
  xor ax, ax
  mov ds, ax                          ; selector 0, base 0; the 64 KiB limit came from 0x38
  mov dword [rm_gp_count], 0
  mov word [rm_gp_resume], rm3_after
  mov ebx, 0x200000
  mov eax, [ebx]
rm3_after:
  mov eax, [rm_gp_count]
  SAVE 19, eax

  ; --- real-mode INT n through the IVT ---
  mov word [0x60 * 4], rm_int60
  mov word [0x60 * 4 + 2], 0
  mov sp, 0x7000
  sti                                 ; nothing can interrupt: only to see IF pushed and cleared
  int 0x60
after_int:
  cli
  movzx eax, word [int_ip]
  sub eax, after_int
  SAVE 22, eax
  ; LIDT moves the real-mode vector table
  mov word [0x4000 + 0x60 * 4], rm_int60b
  mov word [0x4000 + 0x60 * 4 + 2], 0
  o32 lidt [ivt_moved]
  int 0x60
  ; a vector beyond the IDTR limit -> #GP (vector 13 is still inside)
  o32 lidt [ivt_short]
  mov dword [rm_gp_count], 0
  mov word [rm_gp_resume], after_short
  int 0x60
after_short:
  mov eax, [rm_gp_count]
  SAVE 26, eax
  mov dword [R(0)], DONE_MAGIC
  hlt

rm_int60:
  mov [cs:R(20)], sp                  ; FLAGS, CS, IP pushed
  pushf
  pop ax
  and ax, 0x300
  mov [cs:R(21)], ax                  ; IF and TF cleared
  mov bp, sp
  mov ax, [bp]
  mov [cs:int_ip], ax
  movzx eax, word [bp + 2]
  mov [cs:R(23)], eax
  movzx eax, word [bp + 4]
  and eax, 0x200
  mov [cs:R(24)], eax
  iret

rm_int60b:
  mov dword [cs:R(25)], 1
  iret

  align 4
int_ip: dd 0
ivt_moved:
  dw 0x3ff
  dd 0x4000
ivt_short:
  dw 0x60 * 4 - 1
  dd 0

; Real-mode #GP handler (IVT vector 13): count, remember the faulting IP, resume.
rm_gp:
  push bp
  mov bp, sp
  inc dword [cs:rm_gp_count]
  push ax
  mov ax, [bp + 2]
  mov [cs:rm_gp_ip], ax
  mov ax, [cs:rm_gp_resume]
  mov [bp + 2], ax
  pop ax
  pop bp
  iret

  align 4
rm_gp_count: dd 0
rm_gp_ip:    dd 0
rm_gp_resume: dw after_gp, 0

  align 8
gdt_ptr:
  dw gdt_end - gdt - 1
  dd gdt
GDT_BEGIN
GDT_END
