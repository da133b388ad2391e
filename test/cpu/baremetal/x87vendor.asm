; 16. x87 and FXRSTOR behaviour where Intel and AMD processors differ, pinned to the Intel one:
;     an unmasked store exception against a faulting destination, FSTP m80fp split over a
;     present and an absent page, FXRSTOR of an MXCSR with bit 17 set, and FPREM1 returning a
;     denormal dividend with #U unmasked. All at CPL 0 with
;     paging on, CR0.NE = 1 (#MF reporting), CR0.MP = 1, EM = TS = 0.
%include "common.inc"

%define PD        0x100000
%define PT0       0x101000            ; identity map of 0..4 MiB
%define PT1       0x102000            ; linear 0x400000..: 0x402000, 0x403000 present, the rest absent
%define P         1
%define RW        2
%define PTE(n)    (PT1 + (n) * 4)
%define ABSENT    0x404100            ; on the absent page 0x404000
%define SPLIT     0x403ff8            ; m80fp: bytes 0..7 on 0x403000 (present), 8..9 on 0x404000
%define HERE80    0x402100            ; a present m80fp
%define CR2MARK   0x0c2c2c2c          ; CR2 before each case: still there when no #PF came
%define PATTERN   0xcccccccc
%define IMG       0x5000              ; FXRSTOR image (512 bytes, 16-byte aligned)
%define OUT       0x5200              ; FXSAVE image to read MXCSR and FCW back

; Start a case: no exception recorded yet, none counted, CR2 = CR2MARK.
%macro CLEAR_EXC 0
  mov dword [EXC_VEC], 0xff
  mov dword [EXC_ERR], 0xffffffff
  mov dword [EXC_CR2], 0xffffffff
  mov dword [EXC_CNT], 0
  mov eax, CR2MARK
  mov cr2, eax
%endmacro

; SAVEFSW slot: FNSTSW (no wait) into a slot.
%macro SAVEFSW 1
  fnstsw ax
  movzx eax, ax
  SAVE %1, eax
%endmacro

; RESTORE mxcsr: FXRSTOR of the IMG image with this MXCSR (expects no exception), then FXSAVE
; to OUT.
%macro RESTORE 1
  mov dword [IMG + 24], %1
  fxrstor [IMG]
  fxsave [OUT]
%endmacro

BEGIN_PM
main:
  PAGE_TABLES 3, P | RW
  mov dword [PTE(2)], 0x202000 | P | RW    ; 0x402000
  mov dword [PTE(3)], 0x203000 | P | RW    ; 0x403000; 0x404000 and on absent
  mov eax, cr0
  or eax, 0x22                             ; NE, MP
  and eax, ~0xc                            ; EM = TS = 0
  mov cr0, eax
  ENABLE_PAGING

  ; --- x87 store fault order ---
  ; An x87 store whose conversion raises an UNMASKED numeric exception, to a destination on a
  ; not-present page. The SDM: an unmasked overflow with a memory destination leaves "the
  ; top-of-stack pointer (TOP) and source and destination operands" unchanged (vol. 1 8.5.4;
  ; 4.9.1.4: "the source and destination operands either remain unchanged or a biased result
  ; is stored", the biased result being for a register destination only); an unmasked invalid
  ; operation on FIST/FISTP stores "no value ... in the destination operand" (vol. 2 FIST/FISTP;
  ; vol. 1 8.5.1.2: TOP and the source operands unchanged). The exception is then pending
  ; (FSW.ES) and, with CR0.NE = 1, #MF is raised at the next waiting x87 instruction, the saved
  ; EIP pointing at it (vol. 3 6.15 interrupt 16; vol. 1 8.7). Intel processors (and the core)
  ; do not touch the destination at all: no #PF. AMD processors check the destination first
  ; and raise #PF at the store (recorded on an AMD EPYC in the differential test), which is why
  ; the host cannot be the reference here. Whether the destination is probed first is not
  ; specified by the SDM (vol. 1 4.9.2 orders the numeric exceptions only).
  fninit
  fldcw [cw_om0]                           ; overflow unmasked
  fld qword [huge]                         ; 1e300: fits in ST0, not in m32fp
  CLEAR_EXC
  EXPECT .f1
.s1:
  fst dword [ABSENT]                       ; overflow, unmasked: nothing stored, nothing probed
.w1:
  fwait                                    ; #MF here
.f1:
  mov dword [RECOVER], 0
  SAVE_FAULT 1, .w1
  mov eax, [EXC_CNT]
  SAVE 5, eax
  SAVEFSW 6
  fnclex

  fninit
  fldcw [cw_im0]                           ; invalid operation unmasked
  fld dword [big32]                        ; 3e9 > 2^31 - 1: too large for m32int
  CLEAR_EXC
  EXPECT .f2
.s2:
  fistp dword [ABSENT]                     ; invalid, unmasked: nothing stored, no pop
.w2:
  fwait
.f2:
  mov dword [RECOVER], 0
  SAVE_FAULT 7, .w2
  mov eax, [EXC_CNT]
  SAVE 11, eax
  SAVEFSW 12
  fnclex

  ; --- x87 split store ---
  ; FSTP m80fp at 8 bytes before the end of a present page whose next page is absent: bytes
  ; 0..7 (the significand) are on the present page, 8..9 (sign and exponent) on the absent
  ; one. The SDM (vol. 3 6.5 Exception Classifications) requires only that the fault be
  ; restartable (reported before the instruction, state as before it); which bytes of a split
  ; store reach memory before the #PF is not specified. Intel hardware writes the low eight
  ; bytes first and faults on the last two (the order the differential test showed on Intel
  ; hosts); AMD checks both pages first and writes nothing. The core takes the Intel order.
  fninit
  mov dword [SPLIT - 8], PATTERN
  mov dword [SPLIT - 4], PATTERN
  mov dword [SPLIT], PATTERN
  mov dword [SPLIT + 4], PATTERN
  fld tword [val80]                        ; significand 0x8123456789abcdef, exponent 0x4005
  CLEAR_EXC
  EXPECT .f3
.i3:
  fstp tword [SPLIT]
.f3:
  mov dword [RECOVER], 0
  SAVE_FAULT 13, .i3
  mov eax, [EXC_CNT]
  SAVE 17, eax
  mov eax, [SPLIT]
  SAVE 18, eax
  mov eax, [SPLIT + 4]
  SAVE 19, eax
  mov eax, [SPLIT - 4]
  SAVE 20, eax
  SAVEFSW 21                               ; TOP still 7: not popped
  fstp tword [HERE80]                      ; ST0 still holds the value
  mov eax, [HERE80]
  SAVE 22, eax
  mov eax, [HERE80 + 4]
  SAVE 23, eax
  movzx eax, word [HERE80 + 8]
  SAVE 24, eax

  ; --- FXRSTOR reserved MXCSR bit ---
  ; vol. 2 FXRSTOR: #GP(0) "for an attempt to set reserved bits in MXCSR"; vol. 1 10.5.1.1:
  ; the reserved bits are those clear in MXCSR_MASK, whose default (the FXSAVE field reads 0)
  ; is 0000FFBFH: bits 16..31 are reserved. So an MXCSR of 00021F80H (bit 17 set) faults,
  ; and, a fault being restartable (vol. 3 6.5), MXCSR and the x87 state stay as they were;
  ; 00001F80H and 00007F80H load. AMD parts with misaligned-SSE support (CPUID
  ; Fn8000_0001_ECX[MisAlignSse]) take bit 17 as MM, the misaligned exception mask, and load
  ; it. This core is a P6 with FXSR but no SSE: STMXCSR is #UD and CR4.OSFXSR cannot be set, so
  ; MXCSR is read back from an FXSAVE image (offset 24). With OSFXSR = 0 the SDM (vol. 2
  ; FXSAVE/FXRSTOR) leaves it implementation dependent whether MXCSR is saved and restored; the
  ; core always does, and makes the reserved-bit check with it.
  fninit
  fxsave [IMG]                             ; a valid image of the current state
  CLEAR_EXC
  RESTORE 0x00007f80                       ; round toward zero: a valid MXCSR
  mov eax, [OUT + 24]
  SAVE 25, eax
  RESTORE 0x00001f80
  mov eax, [OUT + 24]
  SAVE 26, eax
  RESTORE 0x00007f80
  mov eax, [EXC_CNT]
  SAVE 27, eax                             ; no exception in the three loads
  mov dword [IMG + 24], 0x00021f80
  mov word [IMG + 0], 0x027f               ; an FCW that must not be loaded either
  CLEAR_EXC
  EXPECT .f4
.i4:
  fxrstor [IMG]
.f4:
  mov dword [RECOVER], 0
  SAVE_FAULT 28, .i4
  mov eax, [EXC_CNT]
  SAVE 32, eax
  fxsave [OUT]
  mov eax, [OUT + 24]
  SAVE 33, eax
  movzx eax, word [OUT + 0]
  SAVE 34, eax

  ; --- FPREM1 of a denormal by infinity ---
  ; ST0 a denormal, ST1 -infinity, #D masked and #U UNMASKED. Vol. 2 FPREM1 (results table): a
  ; finite ST(0) over an infinite ST(1) gives ST(0) unchanged, quotient 0 (C0 = C3 = C1 = 0),
  ; C2 = 0 (complete); #D for the denormal operand. Intel returns the denormal with only DE set:
  ; no underflow, so nothing is pending. AMD also signals #U and, UE being unmasked, delivers
  ; the significand normalized with the exponent biased by 24576 (recorded on an AMD EPYC).
  fninit
  fldcw [cw_um0]
  fld tword [ninf80]
  fld tword [den80]
  CLEAR_EXC
  EXPECT .after_prem
  fprem1
  fnstsw ax
  movzx eax, ax
  SAVE 35, eax
  fwait                                    ; would raise #MF if an exception were pending
.after_prem:
  mov dword [RECOVER], 0
  mov eax, [EXC_CNT]
  SAVE 36, eax
  fstp tword [HERE80]
  mov eax, [HERE80]
  SAVE 37, eax
  mov eax, [HERE80 + 4]
  SAVE 38, eax
  movzx eax, word [HERE80 + 8]
  SAVE 39, eax
  FINISH

align 16
val80:  dq 0x8123456789abcdef
        dw 0x4005
den80:  dq 0x0cc78eab9ef095a4              ; exponent 0, J = 0: a denormal
        dw 0x0000
ninf80: dq 0x8000000000000000              ; -infinity
        dw 0xffff
align 8
huge:   dq 1.0e300
big32:  dd 3.0e9
cw_om0: dw 0x037f & ~0x08
cw_im0: dw 0x037f & ~0x01
cw_um0: dw 0x037f & ~0x10

COMMON_CODE
GDT_BEGIN
GDT_END
