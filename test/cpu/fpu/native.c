/* The reference for fpu.test.ts: runs each test vector on the host's x87 and prints the result.
 * Input lines:  op cw a_se a_sig b_se b_sig      (hex; op numbers as in f80-entry.ts)
 * Output lines: r_se r_sig r2_se r2_sig sw        (hex)
 * ST0 = a and ST1 = b before the operation. Memory-destination operations start with b's bits
 * in the destination (truncated to its width), so a store suppressed by an unmasked exception
 * shows up as b.
 * Status is read with FNSTSW and cleared with FNCLEX before anything can trap. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct __attribute__((packed)) { uint64_t sig; uint16_t se; } f80;

#define PRE "fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t"
#define POST "\n\tfnstsw %[sw]\n\tfnclex\n\t"
#define OUT2 "fstpt %[r]\n\tfstpt %[r2]\n\tfninit\n\t"
#define REGOP(insn) \
  __asm__ volatile(PRE insn POST OUT2 : [r] "=m"(R), [r2] "=m"(R2), [sw] "=m"(sw) \
                   : [a] "m"(A), [b] "m"(B), [cw] "m"(cw))
#define MEMOP(insn, mem) \
  __asm__ volatile(PRE insn POST "fninit\n\t" : [m] "+m"(mem), [sw] "=m"(sw) \
                   : [a] "m"(A), [b] "m"(B), [cw] "m"(cw))
#define LDOP(insn, mem) \
  __asm__ volatile("fninit\n\tfldcw %[cw]\n\t" insn POST "fstpt %[r]\n\tfninit\n\t" \
                   : [r] "=m"(R), [sw] "=m"(sw) : [m] "m"(mem), [cw] "m"(cw))

int main(void) {
  unsigned op, cwi, ase, bse;
  unsigned long long asig, bsig;
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%x %x %x %llx %x %llx", &op, &cwi, &ase, &asig, &bse, &bsig) != 6) continue;
    f80 A = {asig, (uint16_t)ase}, B = {bsig, (uint16_t)bse}, R = {0, 0}, R2 = {bsig, (uint16_t)bse};
    uint16_t cw = (uint16_t)cwi, sw = 0;
    switch (op) {
    case 0: REGOP("fadd %%st(1), %%st"); break;
    case 1: REGOP("fsub %%st(1), %%st"); break;
    case 2: REGOP("fmul %%st(1), %%st"); break;
    case 3: REGOP("fdiv %%st(1), %%st"); break;
    case 4: REGOP("fsqrt"); break;
    case 5: REGOP("fprem"); break;
    case 6: REGOP("fprem1"); break;
    case 7: REGOP("frndint"); break;
    case 8: REGOP("fscale"); break;
    case 9: /* fxtract pushes: ST0 = significand, ST1 = exponent */
      __asm__ volatile(PRE "fxtract" POST "fstpt %[r]\n\tfstpt %[r2]\n\tfninit\n\t"
                       : [r] "=m"(R), [r2] "=m"(R2), [sw] "=m"(sw) : [a] "m"(A), [b] "m"(B), [cw] "m"(cw));
      /* a blocked FXTRACT leaves a in ST0 and b in ST1 */
      break;
    case 10: REGOP("fcom %%st(1)"); R = A; R2 = B; break;
    case 11: REGOP("fucom %%st(1)"); R = A; R2 = B; break;
    case 12: { uint32_t m = (uint32_t)asig; LDOP("flds %[m]", m); break; }
    case 13: { uint64_t m = asig; LDOP("fldl %[m]", m); break; }
    case 21: { uint64_t m = asig; LDOP("fildll %[m]", m); break; }
    case 19: { f80 m = A; LDOP("fbld %[m]", m); break; }
    case 22: {
      switch (asig) {
      case 0: LDOP("fld1", cw); break;
      case 1: LDOP("fldl2t", cw); break;
      case 2: LDOP("fldl2e", cw); break;
      case 3: LDOP("fldpi", cw); break;
      case 4: LDOP("fldlg2", cw); break;
      case 5: LDOP("fldln2", cw); break;
      default: LDOP("fldz", cw); break;
      }
      break;
    }
    case 14: { uint32_t m = (uint32_t)bsig; MEMOP("fsts %[m]", m); R.se = 0; R.sig = m; break; }
    case 15: { uint64_t m = bsig; MEMOP("fstl %[m]", m); R.se = 0; R.sig = m; break; }
    case 16: { uint16_t m = (uint16_t)bsig; MEMOP("fists %[m]", m); R.se = 0; R.sig = m; break; }
    case 17: { uint32_t m = (uint32_t)bsig; MEMOP("fistl %[m]", m); R.se = 0; R.sig = m; break; }
    case 18: { uint64_t m = bsig; MEMOP("fistpll %[m]", m); R.se = 0; R.sig = m; break; }
    case 20: { f80 m = B; MEMOP("fbstp %[m]", m); R = m; break; }
    default: continue;
    }
    printf("%x %llx %x %llx %x\n", R.se, (unsigned long long)R.sig, R2.se, (unsigned long long)R2.sig, sw);
  }
  return 0;
}
