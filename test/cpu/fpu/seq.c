/* Runs x87 instruction sequences on the host for fpu.test.ts.
 * Input line:  eflags buf(512 hex chars = 256 bytes) then tokens op:modrm:off (hex), one per
 *              instruction; memory forms (modrm < c0) address buf + off.
 * Output line: FNSAVE image (108 bytes) buf (256 bytes) eflags, all hex.
 * The code is assembled into an executable page: PUSH imm32 / POPFD, FNINIT, the
 * instructions, FNSAVE, PUSHFD / POP EAX / MOV [flags], EAX, RET. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

static uint8_t buf[256] __attribute__((aligned(16)));
static uint8_t save[108];
static uint32_t flagsOut;

static void put32(uint8_t **p, uint32_t v) { memcpy(*p, &v, 4); *p += 4; }

int main(void) {
  uint8_t *code = mmap(0, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return 1;
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char *tok = strtok(line, " \n");
    if (!tok) continue;
    uint32_t fl = strtoul(tok, 0, 16);
    tok = strtok(0, " \n");
    for (int i = 0; i < 256; i++) { char h[3] = {tok[2 * i], tok[2 * i + 1], 0}; buf[i] = strtoul(h, 0, 16); }
    uint8_t *p = code;
    *p++ = 0x68; put32(&p, fl); *p++ = 0x9d;     /* push imm32; popfd */
    *p++ = 0xdb; *p++ = 0xe3;                    /* fninit */
    while ((tok = strtok(0, " \n"))) {
      unsigned op, modrm, off;
      sscanf(tok, "%x:%x:%x", &op, &modrm, &off);
      *p++ = op;
      if (modrm < 0xc0) { *p++ = (modrm & 0x38) | 5; put32(&p, (uint32_t)(uintptr_t)(buf + off)); }
      else *p++ = modrm;
    }
    *p++ = 0xdd; *p++ = 0x35; put32(&p, (uint32_t)(uintptr_t)save); /* fnsave [save] */
    *p++ = 0x9c; *p++ = 0x58;                                        /* pushfd; pop eax */
    *p++ = 0xa3; put32(&p, (uint32_t)(uintptr_t)&flagsOut);          /* mov [flagsOut], eax */
    *p++ = 0xc3;
    ((void (*)(void))code)();
    for (int i = 0; i < 108; i++) printf("%02x", save[i]);
    putchar(' ');
    for (int i = 0; i < 256; i++) printf("%02x", buf[i]);
    printf(" %x\n", flagsOut);
  }
  return 0;
}
