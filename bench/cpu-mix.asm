; CPU benchmark guest: a fixed instruction mix, booted as a multiboot kernel (a.out kludge, so it
; is a flat binary loaded at 1 MiB). Both our core and v86 run exactly this code.
;   - turns on paging (identity map of the low 8 MiB through 4 KiB pages),
;   - prints 'S' on COM1, runs ITERATIONS rounds of the mix, prints 'E', halts.
; Mix per round: register ALU, loads and stores through paging (a 16 KiB table walked with a
; stride), a data-dependent branch, a call and return, and short REP MOVSD / REP STOSD.
; Build: nasm -f bin -DITERATIONS=n cpu-mix.asm -o cpu-mix.bin

bits 32
%ifndef ITERATIONS
%define ITERATIONS 100000
%endif

LOAD        equ 0x100000
PAGE_DIR    equ 0x200000
PAGE_TABLES equ 0x201000      ; two tables: 8 MiB
TABLE       equ 0x400000      ; 16 KiB working set
SRC         equ 0x410000
DST         equ 0x411000
COM1        equ 0x3f8

org LOAD
mb_header:
    dd 0x1badb002                     ; multiboot magic
    dd 0x00010000                     ; flags: addresses in this header (a.out kludge)
    dd -(0x1badb002 + 0x00010000)     ; checksum
    dd mb_header                      ; header_addr
    dd LOAD                           ; load_addr
    dd image_end                      ; load_end_addr
    dd 0                              ; bss_end_addr (none)
    dd start                          ; entry_addr

start:
    cli
    mov esp, 0x180000
    ; page tables: identity map 0..8 MiB, present + writable
    mov edi, PAGE_TABLES
    mov eax, 0x003
    mov ecx, 2048
.fill_pt:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    dec ecx
    jnz .fill_pt
    mov edi, PAGE_DIR
    mov dword [edi], PAGE_TABLES + 0x003
    mov dword [edi + 4], PAGE_TABLES + 0x1000 + 0x003
    mov ecx, 1022
    add edi, 8
    xor eax, eax
    cld
    rep stosd
    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax

    mov al, 'S'
    mov dx, COM1
    out dx, al

    mov ebp, ITERATIONS
    xor ebx, ebx                      ; running checksum
    xor esi, esi                      ; table index
round:
    ; register ALU
    mov eax, ebp
    imul eax, eax, 0x9e3779b1
    add ebx, eax
    xor ebx, 0x5bd1e995
    rol ebx, 5
    sub ebx, ebp
    shr eax, 3
    and eax, 0x0ffc
    or ecx, eax
    adc ebx, ecx
    lea edx, [ebx + eax*2 + 7]
    ; loads and stores through paging: 16 KiB table, stride 4 KiB + 4 bytes
    add esi, 0x1004
    and esi, 0x3ffc
    mov edi, [TABLE + esi]
    add edi, edx
    mov [TABLE + esi], edi
    mov ecx, [TABLE + eax]
    xor [TABLE + eax + 4], ecx
    ; a data-dependent branch
    test edx, 0x10
    jz .even
    inc ebx
    jmp .joined
.even:
    dec ebx
.joined:
    cmp ecx, ebx
    jb .below
    add ebx, 3
.below:
    ; call and return
    call mix
    ; strings
    push esi
    mov esi, SRC
    mov edi, DST
    mov ecx, 8
    rep movsd
    mov ecx, 4
    mov eax, ebx
    rep stosd
    pop esi
    dec ebp
    jnz round

    mov [TABLE], ebx
    mov al, 'E'
    mov dx, COM1
    out dx, al
.halt:
    hlt
    jmp .halt

mix:
    push ebx
    mov eax, [esp]
    shl eax, 1
    pop ebx
    xor ebx, eax
    ret

image_end:
