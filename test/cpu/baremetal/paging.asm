; 2. Paging: 4 KiB and 4 MiB pages, A/D bits, #PF error codes and CR2, U/S, R/W with CR0.WP,
;    INVLPG, CR3 reload, global pages.
%include "common.inc"

%define PD      0x100000
%define PT0     0x101000            ; identity map of 0..4 MiB, user, writable
%define PT1     0x102000            ; linear 0x400000..0x7fffff: the test pages
%define PG_A    0x204000            ; physical pages with known contents
%define PG_B    0x205000
%define P       1
%define RW      2
%define US      4
%define PS      0x80
%define ACC     0x20
%define DIRTY   0x40
%define GLOBAL  0x100
%define PTE(n)  (PT1 + (n) * 4)     ; PTE of linear 0x400000 + n * 4 KiB
%define PT2     0x103000            ; under a supervisor PDE (linear 0x1000000)
%define PT3     0x104000            ; under a read-only PDE (linear 0x1400000)

BEGIN_PM
main:
  ; Page directory and tables.
  PAGE_TABLES 5, P | RW | US
  mov dword [PD + 8], 0x000000 | PS | P | RW   ; 4 MiB page: linear 0x800000 -> physical 0
  mov dword [PTE(0)], 0x200000 | P | RW | US  ; plain page
  mov dword [PTE(1)], 0                       ; not present
  mov dword [PTE(2)], 0x200000 | P | RW       ; supervisor
  mov dword [PTE(3)], 0x200000 | P | US       ; read-only
  mov dword [PTE(4)], PG_A | P | RW           ; INVLPG / CR3 test
  mov dword [PTE(5)], PG_A | P | RW | GLOBAL  ; global page test
  mov dword [PD + 16], PT2 | P | RW          ; U/S = 0 in the PDE
  mov dword [PT2], 0x200000 | P | RW | US
  mov dword [PD + 20], PT3 | P | US          ; R/W = 0 in the PDE
  mov dword [PT3], 0x200000 | P | RW | US
  mov dword [0x403000], 0x40404040           ; physical, for the 4 MiB INVLPG test
  mov dword [PG_A], 0xaaaaaaaa
  mov dword [PG_B], 0xbbbbbbbb
  mov dword [0x200000], 0x13572468
  mov eax, PD
  mov cr3, eax
  mov eax, cr4
  or eax, 0x10                                ; CR4.PSE
  mov cr4, eax
  mov eax, cr0
  or eax, 0x80000000                          ; PG, WP still 0
  mov cr0, eax
  jmp .paged
.paged:
  mov eax, cr0
  shr eax, 31
  SAVE 1, eax

  ; --- A/D bits on a 4 KiB page ---
  mov eax, [0x400000]
  SAVE 2, eax
  mov eax, [PTE(0)]
  and eax, ACC | DIRTY
  SAVE 3, eax                                 ; read: A set, D clear
  mov eax, [PD + 4]
  and eax, ACC | DIRTY
  SAVE 4, eax                                 ; PDE: A set
  mov dword [0x400010], 0x99
  mov eax, [PTE(0)]
  and eax, ACC | DIRTY
  SAVE 5, eax                                 ; write: A and D

  ; --- 4 MiB page ---
  mov dword [0x3000], 0x4d4d4d4d
  mov eax, [0x803000]
  SAVE 6, eax
  mov eax, [PD + 8]
  and eax, ACC | DIRTY
  SAVE 7, eax                                 ; A set, D clear
  mov dword [0x803004], 1
  mov eax, [PD + 8]
  and eax, ACC | DIRTY
  SAVE 8, eax

  ; --- not present: PDE (0xC00000) and PTE (0x401000) ---
  EXPECT .np1
  mov eax, [0xc00010]
.np1:
  mov eax, [EXC_VEC]
  SAVE 9, eax
  mov eax, [EXC_ERR]
  SAVE 10, eax
  mov eax, [EXC_CR2]
  SAVE 11, eax
  EXPECT .np2
  mov dword [0x401ffc], 0
.np2:
  mov eax, [EXC_ERR]
  SAVE 12, eax
  mov eax, [EXC_CR2]
  SAVE 13, eax

  ; --- ring 3: supervisor page read / write, read-only page write ---
  mov eax, [0x403000]                         ; reading a read-only user page is fine (ring 0)
  SAVE 20, eax
  mov dword [R0CONT], .r0c
  TO_RING3 .user2
.user2:
  EXPECT .v1
  mov eax, [0x402000]
.v1:
  mov eax, [EXC_ERR]
  mov [R(16)], eax
  EXPECT .v2
  mov dword [0x402000], 1
.v2:
  mov eax, [EXC_ERR]
  mov [R(17)], eax
  EXPECT .v3
  mov dword [0x403008], 1
.v3:
  mov eax, [EXC_ERR]
  mov [R(18)], eax
  mov eax, [EXC_CR2]
  mov [R(19)], eax
  mov eax, [0x403000]                         ; reading a read-only user page is fine
  mov [R(35)], eax
  int 0x30
.r0c:
  mov eax, [EXC_CNT]
  SAVE 14, eax
  mov eax, [EXC_LOG + 8 * 4]
  SAVE 15, eax

  ; --- ring 0 write to the read-only page: allowed with WP = 0, #PF(3) with WP = 1 ---
  mov dword [EXC_CNT], 0
  mov dword [0x40300c], 0x77
  mov eax, [0x20000c]
  SAVE 21, eax
  mov eax, cr0
  or eax, 0x10000
  mov cr0, eax
  EXPECT .wp
  mov dword [0x40300c], 0x88
.wp:
  mov eax, [EXC_ERR]
  SAVE 22, eax
  mov eax, [0x20000c]
  SAVE 23, eax
  mov eax, [EXC_CNT]
  SAVE 24, eax
  mov edx, 0x99
  EXPECT .wp2
  mov [0x40300c], edx                         ; MOV m32, r32: the same #PF
.wp2:
  mov eax, [0x20000c]
  SAVE 47, eax

  ; --- INVLPG and CR3 reload ---
  mov eax, [0x404000]
  SAVE 25, eax                                ; A (now cached)
  mov dword [PTE(4)], PG_B | P | RW
  mov eax, [0x404000]
  SAVE 26, eax                                ; stale: still A
  invlpg [0x404000]
  mov eax, [0x404000]
  SAVE 27, eax                                ; B
  mov dword [PTE(4)], PG_A | P | RW
  mov eax, [0x404000]
  SAVE 28, eax                                ; stale: still B
  mov eax, cr3
  mov cr3, eax
  mov eax, [0x404000]
  SAVE 29, eax                                ; A after CR3 reload

  ; --- global pages ---
  mov eax, cr4
  or eax, 0x80                                ; PGE
  mov cr4, eax
  mov eax, [0x405000]
  SAVE 30, eax                                ; A, cached as global
  mov dword [PTE(5)], PG_B | P | RW | GLOBAL
  mov eax, cr3
  mov cr3, eax
  mov eax, [0x405000]
  SAVE 31, eax                                ; still A: global entries survive CR3 loads
  mov eax, cr4
  and eax, ~0x80
  mov cr4, eax
  or eax, 0x80
  mov cr4, eax
  mov eax, [0x405000]
  SAVE 32, eax                                ; B: toggling PGE flushes everything
  ; a non-global entry under PGE is dropped by a CR3 load
  mov eax, [0x404000]                         ; A cached (not global)
  mov dword [PTE(4)], PG_B | P | RW
  mov eax, cr3
  mov cr3, eax
  mov eax, [0x404000]
  SAVE 33, eax

  ; --- the PDE restricts too: U/S and R/W combine as the stricter of PDE and PTE ---
  mov dword [R0CONT], .r0d
  TO_RING3 .user3
.user3:
  EXPECT .w1
  mov eax, [0x1000000]
.w1:
  mov eax, [EXC_ERR]
  mov [R(36)], eax
  mov eax, [0x1400000]                        ; read through the read-only PDE: fine
  mov [R(37)], eax
  EXPECT .w2
  mov dword [0x1400000], 1
.w2:
  mov eax, [EXC_ERR]
  mov [R(38)], eax
  int 0x30
.r0d:
  EXPECT .w3
  mov dword [0x1400004], 1                    ; CPL 0, WP = 1: the PDE R/W counts
.w3:
  mov eax, [EXC_ERR]
  SAVE 39, eax
  ; --- INVLPG of a 4 MiB page ---
  mov eax, [0x803000]                         ; cached: physical 0x3000
  mov dword [PD + 8], 0x400000 | PS | P | RW
  mov eax, [0x803000]
  SAVE 40, eax                                ; stale
  invlpg [0x800000]
  mov eax, [0x803000]
  SAVE 41, eax                                ; physical 0x403000
  ; --- RW -> RO with INVLPG: the next supervisor write faults (WP = 1) ---
  mov dword [0x400020], 1                     ; cached writable
  and dword [PTE(0)], ~RW
  invlpg [0x400000]
  EXPECT .w4
  mov dword [0x400020], 2
.w4:
  mov eax, [EXC_ERR]
  SAVE 42, eax
  mov eax, [EXC_CR2]
  SAVE 43, eax

  ; --- one routine run at ring 0, then at ring 3: a supervisor page reads fine at ring 0, and the
  ; same code faults at ring 3 (a translation made at ring 0 must not run at ring 3 with ring 0's
  ; rights: jit/cache.ts runsHere) ---
  call .rdsup
  call .rdsup
  SAVE 44, eax
  mov dword [R0CONT], .r0e
  TO_RING3 .user4
.user4:
  EXPECT .v4
  mov ecx, .rdsup
  call ecx                                    ; indirect: not inside this code's own translation
.v4:
  mov eax, [EXC_ERR]
  mov [R(45)], eax
  int 0x30
.rdsup:
  mov eax, [0x402000]
  ret
.r0e:

  ; --- a MOV r32, m32 that faults leaves its register as it was ---
  mov ecx, 0x5a5a5a5a
  EXPECT .np3
  mov ecx, [0x401ff0]                         ; not present
.np3:
  SAVE 46, ecx

  ; --- at ring 3, the forms whose page faults the block loop records (asm-core/mmu/access.ts
  ;     readLinOrRecord) change nothing when they fault: PUSH and CALL onto a read-only stack
  ;     page, ADD to a read-only page, MOVZX from a page not present; REP STOSD stops at its
  ;     second dword with the first stored (6.5: the state before the faulting instruction,
  ;     or iteration) ---
  mov dword [0x200100], 0x31415926            ; at linear 0x403100 too, read-only at ring 3
  mov dword [PTE(6)], 0x206000 | P | RW | US  ; a plain page, then one not present
  mov dword [PTE(7)], 0
  mov dword [R0CONT], .r0f
  TO_RING3 .user5
.user5:
  mov ebp, esp
  mov esp, 0x404000                           ; the top of the read-only page
  EXPECT .f1
  push eax
.f1:
  mov [R(48)], esp
  mov eax, [EXC_ERR]
  mov [R(49)], eax
  EXPECT .f2
  call .never
.f2:
  mov [R(50)], esp
  mov esp, ebp
  EXPECT .f3
  add dword [0x403100], 1
.f3:
  mov eax, [0x403100]
  mov [R(51)], eax
  mov eax, [EXC_ERR]
  mov [R(52)], eax
  mov ecx, 0x5a5a5a5a
  EXPECT .f4
  movzx ecx, byte [0x401000]                  ; not present
.f4:
  mov [R(53)], ecx
  mov eax, [EXC_ERR]
  mov [R(54)], eax
  cld
  mov edi, 0x406ffc
  mov ecx, 2
  mov eax, 0x61616161
  EXPECT .f5
  rep stosd                                   ; 0x406ffc, then 0x407000: not present
.f5:
  mov [R(55)], ecx
  mov [R(56)], edi
  mov eax, [0x406ffc]
  mov [R(57)], eax
  int 0x30
.never:
  ret
.r0f:

  ; --- paging off again: linear = physical ---
  mov eax, cr0
  and eax, 0x7fffffff
  mov cr0, eax
  jmp .off
.off:
  mov eax, [0x200010]
  SAVE 34, eax
  FINISH

COMMON_CODE
GDT_BEGIN
GDT_END
