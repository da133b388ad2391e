// Native side of the CPU differential test: runs test cases on the host CPU in a 32-bit process.
// Usage: harness <cases.bin> <results.bin>. Record layouts: test/cpu/gen/case.ts.
// Each case: fill the code page with INT3 and place the bytes at CODE_BASE+CODE_ENTRY, fill the
// data/stack pages from the seed, load registers and EFLAGS (entry.asm) and jump. The case ends in
// a signal; the handler turns it into the architectural exception (vector = the kernel's trap
// number, error code, CR2), records the registers, and resumes the harness at recover_point.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_BASE 0x10000000u
#define CODE_SIZE 0x1000u
#define CODE_ENTRY 0x800u
#define DATA_BASE 0x20000000u
#define DATA_SIZE 0x2000u
#define STACK_BASE 0x30000000u
#define STACK_SIZE 0x1000u
#define IMG_SIZE (DATA_SIZE + STACK_SIZE)
// The signal handlers' stack, at a fixed address. The kernel takes a case's ESP for a nested
// signal when it points into this stack, and kills the process when the signal frame would
// then run off its bottom ("overflowed sigaltstack"). A case may leave ESP anywhere: from the
// heap (malloc) this stack moved with ASLR, and a CI run of 2026-12-07 died so. Here, no
// case of the default seed ends with ESP within 8 KiB of it, and every run is the same.
#define ALT_STACK_BASE 0x5f3c0000u
#define ALT_STACK_SIZE 0x10000u
#define MAX_CHANGES 64
#define VEC_TIMEOUT 0x100u
#define VEC_OTHER 0x101u
#define USER_DS 0x2b
#define EFL_TF 0x100u
#define EFL_DF 0x400u
#define EFL_AC 0x40000u

struct in_rec {
  uint32_t id, len;
  uint8_t code[32];
  uint32_t regs[8], eflags, seed, npokes;
  struct { uint32_t addr, value, size; } pokes[4];
};
struct out_rec {
  uint32_t id, vector, err, eip, cr2, regs[8], eflags, nchg;
  struct { uint32_t addr, value; } chg[MAX_CHANGES];
};

extern uint32_t g_ctx[10];
extern uint32_t g_host_esp;
extern void run_case(void);
extern void recover_point(void);

static struct out_rec *g_out;
static volatile int g_running;
static volatile uint32_t g_case, g_seen_case;
static volatile int g_ticks;
static uint8_t *g_data = (uint8_t *)DATA_BASE, *g_stack = (uint8_t *)STACK_BASE;

static void finish(ucontext_t *uc, uint32_t vector, uint32_t err, uint32_t cr2) {
  greg_t *g = uc->uc_mcontext.gregs;
  g_out->vector = vector;
  g_out->err = err;
  g_out->cr2 = cr2;
  g_out->eip = (uint32_t)g[REG_EIP];
  g_out->regs[0] = g[REG_EAX]; g_out->regs[1] = g[REG_ECX];
  g_out->regs[2] = g[REG_EDX]; g_out->regs[3] = g[REG_EBX];
  g_out->regs[4] = g[REG_ESP]; g_out->regs[5] = g[REG_EBP];
  g_out->regs[6] = g[REG_ESI]; g_out->regs[7] = g[REG_EDI];
  g_out->eflags = (uint32_t)g[REG_EFL];
  g[REG_EIP] = (greg_t)(uintptr_t)recover_point;
  g[REG_ESP] = (greg_t)g_host_esp;
  g[REG_EFL] &= ~(greg_t)(EFL_TF | EFL_DF | EFL_AC);
  g[REG_DS] = USER_DS;
  g[REG_ES] = USER_DS;
  g_running = 0;
}

/** Writes x as 8 hex digits at p; returns the end. */
static char *put_hex(char *p, uint32_t x) {
  for (int i = 28; i >= 0; i -= 4) *p++ = "0123456789abcdef"[(x >> i) & 15];
  return p;
}

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  (void)si;
  if (!g_running) {
    // A fault in the harness itself: nothing sensible to return to. Name the signal, where it
    // came from and the last case that ran (fprintf is not async-signal-safe).
    char msg[96] = "harness: fault outside a test case: signal ", *p = msg + strlen(msg);
    p = put_hex(p, (uint32_t)sig);
    p = stpcpy(p, " at eip ");
    p = put_hex(p, (uint32_t)uc->uc_mcontext.gregs[REG_EIP]);
    p = stpcpy(p, " after case ");
    p = put_hex(p, g_case);
    *p++ = '\n';
    write(2, msg, (size_t)(p - msg));
    _exit(3);
  }
  uint32_t trap = (uint32_t)uc->uc_mcontext.gregs[REG_TRAPNO];
  uint32_t err = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
  uint32_t vec = trap < 32 ? trap : VEC_OTHER;
  int has_err = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
  finish(uc, vec, has_err ? err : 0, vec == 14 ? (uint32_t)uc->uc_mcontext.cr2 : 0);
}

// Watchdog: a case still running after two timer ticks is stopped and reported as a timeout.
static void on_alarm(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  (void)sig; (void)si;
  if (!g_running) return;
  uint32_t eip = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
  if (g_seen_case != g_case) { g_seen_case = g_case; g_ticks = 0; return; }
  if (++g_ticks < 2) return;
  if (eip - CODE_BASE < CODE_SIZE) finish(uc, VEC_TIMEOUT, 0, 0);
}

static void fill_image(uint8_t *img, const struct in_rec *c) {
  uint32_t *w = (uint32_t *)img, x = c->seed ? c->seed : 0x9e3779b9u;
  for (uint32_t i = 0; i < IMG_SIZE / 4; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    w[i] = x;
  }
  for (uint32_t p = 0; p < c->npokes && p < 4; p++) {
    for (uint32_t i = 0; i < c->pokes[p].size && i < 4; i++) {
      uint32_t a = c->pokes[p].addr + i, off;
      if (a - DATA_BASE < DATA_SIZE) off = a - DATA_BASE;
      else if (a - STACK_BASE < STACK_SIZE) off = DATA_SIZE + a - STACK_BASE;
      else continue;
      img[off] = (uint8_t)(c->pokes[p].value >> (8 * i));
    }
  }
}

// Refuse to run if anything else lives below 64 KiB (16-bit addressing) or between 0x0f000000 and
// 0x50000000 (branch targets, far bit offsets): wild accesses in the cases must fault exactly as
// in the core, where nothing but these pages is mapped.
static void check_address_space(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
    if ((hi <= 0x0f000000ul || lo >= 0x50000000ul) && lo >= 0x10000ul) continue;
    if (lo == CODE_BASE || lo == DATA_BASE || lo == STACK_BASE) continue;
    fprintf(stderr, "harness: unexpected mapping in the test window: %s", line);
    exit(4);
  }
  fclose(f);
}

static int copy_maps(const char *path) {
  FILE *in = fopen("/proc/self/maps", "r"), *out = fopen(path, "w");
  char line[512];
  if (!in || !out) return 0;
  while (fgets(line, sizeof line, in)) fputs(line, out);
  fclose(in);
  return fclose(out) == 0;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: harness cases.bin results.bin maps.txt\n"); return 2; }
  FILE *fi = fopen(argv[1], "rb");
  if (!fi) { perror(argv[1]); return 2; }
  fseek(fi, 0, SEEK_END);
  long size = ftell(fi);
  fseek(fi, 0, SEEK_SET);
  uint32_t n = (uint32_t)(size / sizeof(struct in_rec));
  struct in_rec *cases = malloc(n * sizeof *cases + 1);
  struct out_rec *outs = calloc(n + 1, sizeof *outs);
  if (!cases || !outs || fread(cases, sizeof *cases, n, fi) != n) { fprintf(stderr, "harness: bad input\n"); return 2; }
  fclose(fi);

  int fd = memfd_create("webx86-code", 0);
  if (fd < 0 || ftruncate(fd, CODE_SIZE) != 0) { perror("memfd"); return 2; }
  uint8_t *code_rw = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void *code = mmap((void *)CODE_BASE, CODE_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
  void *data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  void *stack = mmap((void *)STACK_BASE, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code_rw == MAP_FAILED || code != (void *)CODE_BASE || data != (void *)DATA_BASE || stack != (void *)STACK_BASE) {
    fprintf(stderr, "harness: cannot map the fixed test pages\n");
    return 2;
  }
  check_address_space();

  void *alt = mmap((void *)ALT_STACK_BASE, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  stack_t ss = { .ss_sp = alt, .ss_size = ALT_STACK_SIZE, .ss_flags = 0 };
  if (alt != (void *)ALT_STACK_BASE || sigaltstack(&ss, NULL) != 0) { perror("sigaltstack"); return 2; }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGALRM);
  int sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP };
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  sa.sa_sigaction = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = { { 0, 250000 }, { 0, 250000 } };
  setitimer(ITIMER_REAL, &it, NULL);

  static uint8_t img[IMG_SIZE];
  for (uint32_t k = 0; k < n; k++) {
    const struct in_rec *c = &cases[k];
    struct out_rec *o = &outs[k];
    o->id = c->id;
    memset(code_rw, 0xcc, CODE_SIZE);
    memcpy(code_rw + CODE_ENTRY, c->code, c->len <= 32 ? c->len : 32);
    fill_image(img, c);
    memcpy(g_data, img, DATA_SIZE);
    memcpy(g_stack, img + DATA_SIZE, STACK_SIZE);
    memcpy(g_ctx, c->regs, 8 * 4);
    g_ctx[8] = c->eflags & ~(EFL_TF);
    g_ctx[9] = CODE_BASE + CODE_ENTRY;
    g_out = o;
    g_case = k;
    g_running = 1;
    run_case();
    // Differences against the initial image, in address order.
    uint32_t nchg = 0;
    for (uint32_t i = 0; i < IMG_SIZE; i++) {
      uint8_t now = i < DATA_SIZE ? g_data[i] : g_stack[i - DATA_SIZE];
      if (now == img[i]) continue;
      if (nchg < MAX_CHANGES) {
        o->chg[nchg].addr = i < DATA_SIZE ? DATA_BASE + i : STACK_BASE + i - DATA_SIZE;
        o->chg[nchg].value = now;
      }
      nchg++;
    }
    o->nchg = nchg;
  }
  FILE *fo = fopen(argv[2], "wb");
  if (!fo || fwrite(outs, sizeof *outs, n, fo) != n || fclose(fo) != 0) { perror(argv[2]); return 2; }
  /* The process's mappings after the run: where a wild access may have succeeded natively
     (compare.ts lets the core fault there, and nowhere else, when the host did not). */
  if (!copy_maps(argv[3])) { perror(argv[3]); return 2; }
  return 0;
}
