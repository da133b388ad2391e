; Enter and leave a test case natively (see harness.c).
; run_case loads EFLAGS and all eight registers from g_ctx, then jumps to the case's code.
; The case always ends in a signal (INT3 landing or a fault); the handler records the state
; from the ucontext and points EIP at recover_point with ESP = g_host_esp, so the C caller
; sees run_case return normally.
bits 32
section .bss
global g_host_esp
global g_ctx
g_host_esp: resd 1
g_ctx:      resd 10     ; eax ecx edx ebx esp ebp esi edi eflags entry

section .text
global run_case
global recover_point
run_case:
    push ebp
    push ebx
    push esi
    push edi
    mov [g_host_esp], esp
    push dword [g_ctx + 32]
    popfd                       ; MOV does not touch flags, so they reach the case intact
    mov eax, [g_ctx + 0]
    mov ecx, [g_ctx + 4]
    mov edx, [g_ctx + 8]
    mov ebx, [g_ctx + 12]
    mov ebp, [g_ctx + 20]
    mov esi, [g_ctx + 24]
    mov edi, [g_ctx + 28]
    mov esp, [g_ctx + 16]
    jmp dword [g_ctx + 36]
recover_point:
    mov esp, [g_host_esp]
    cld
    pop edi
    pop esi
    pop ebx
    pop ebp
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
