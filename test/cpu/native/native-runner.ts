// Builds test/cpu/native (gcc -m32 + nasm) into a temporary directory and runs batches of cases
// on the host CPU. Never commits or caches binaries in the tree.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CaseResult, type TestCase, decodeResults, encodeCases } from '../gen/case.js';

const here = dirname(fileURLToPath(import.meta.url));

/** An address range the harness process had mapped (its /proc/self/maps). */
export interface HostMapping { lo: number; hi: number; perms: string; name: string }

export class NativeRunner {
  /** The harness process's own mappings after the last run (the test pages included). */
  mappings: HostMapping[] = [];

  private constructor(private readonly dir: string, private readonly exe: string) {}

  /** Compile the harness. Throws with the compiler's message when the toolchain is missing. */
  static build(): NativeRunner {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-cpu-native-'));
    const obj = join(dir, 'entry.o');
    const exe = join(dir, 'harness');
    execFileSync('nasm', ['-f', 'elf32', join(here, 'entry.asm'), '-o', obj], { stdio: 'pipe' });
    execFileSync('gcc', ['-m32', '-O2', '-no-pie', '-Wall', '-o', exe, join(here, 'harness.c'), obj], { stdio: 'pipe' });
    return new NativeRunner(dir, exe);
  }

  /** Run all cases in one process and return one result per case. */
  run(cases: readonly TestCase[]): CaseResult[] {
    if (cases.length === 0) return [];
    const inPath = join(this.dir, 'cases.bin');
    const outPath = join(this.dir, 'results.bin');
    const mapsPath = join(this.dir, 'maps.txt');
    writeFileSync(inPath, encodeCases(cases));
    try {
      execFileSync(this.exe, [inPath, outPath, mapsPath], { stdio: 'pipe', maxBuffer: 1 << 20 });
    } catch (e) {
      throw new Error(`native harness failed on ${cases.length} cases: ${describeExit(e)}`);
    }
    this.mappings = parseMaps(readFileSync(mapsPath, 'utf8'));
    return decodeResults(new Uint8Array(readFileSync(outPath)), cases.length);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How a child process ended, from execFileSync's error: exit status or signal, and its stderr. */
function describeExit(e: unknown): string {
  const x = e as { status?: number | null; signal?: string | null; stderr?: Buffer | string; message?: string };
  const how = x.signal ? `killed by ${x.signal}` : x.status != null ? `exit status ${x.status}` : (x.message ?? String(e));
  const stderr = x.stderr?.toString().trim();
  return stderr ? `${how}; stderr: ${stderr}` : `${how}; no stderr`;
}

/** Lines of /proc/PID/maps ("lo-hi perms offset dev inode name") as ranges. */
export function parseMaps(text: string): HostMapping[] {
  return text.split('\n').flatMap((line) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    return m ? [{ lo: parseInt(m[1], 16), hi: parseInt(m[2], 16), perms: m[3], name: m[4] }] : [];
  });
}

/** Disassemble bytes with objdump (for failure messages); empty string when unavailable. */
export function disassemble(code: Uint8Array): string {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'webx86-dis-'));
    try {
      const f = join(dir, 'code.bin');
      writeFileSync(f, code);
      const out = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386', '-Mintel', '--adjust-vma=0x10000800', f], { encoding: 'utf8' });
      return out.split('\n').filter((l) => /^\s*[0-9a-f]+:\t/.test(l)).map((l) => l.trim()).join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    return '';
  }
}
