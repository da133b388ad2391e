// Build outputs that some tests need: the core (`npm run build:core`) and the default guest
// (`npm run build:images`). `npm test` builds both first, so they are missing only when a
// build step broke or was skipped.
//
// Outside CI, tests that need a missing output are skipped, so a developer without apt (or
// without the time to build the guest) can still run everything else; the skip prints a loud
// warning so it is not mistaken for a pass. Under CI a missing output is a failure: a broken
// image build must never turn into a green run made of skipped tests.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { it } from 'vitest';

export const ROOT = resolve(__dirname, '..');
export const CORE = join(ROOT, 'build/core.wasm');
export const IMAGES = join(ROOT, 'build/images');
export const MANIFEST = join(IMAGES, 'default.json');
/**
 * The kernel, its vmlinux when the build kept one, and the initrd that a guest manifest (such as
 * MANIFEST's) names, read from IMAGES: the image fields of a Machine's options.
 */
export function guestImages(m: { kernel: string; vmlinux?: string; initrd: string }): { kernel: Uint8Array; vmlinux?: Uint8Array; initrd: Uint8Array } {
  const read = (name: string) => new Uint8Array(readFileSync(join(IMAGES, name)));
  return {
    kernel: read(m.kernel),
    vmlinux: m.vmlinux && existsSync(join(IMAGES, m.vmlinux)) ? read(m.vmlinux) : undefined,
    initrd: read(m.initrd),
  };
}
/** The second guest: a bootable raw disk (disk-images/disk.mjs). */
export const DISK_MANIFEST = join(IMAGES, 'disk.json');

/**
 * Running under CI: `.ci/run` exports CI=1, and most CI services set CI=true themselves.
 * An empty value or 0/false/no means not CI (CI= is a way to switch it off by hand).
 */
export function underCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v.trim() !== '' && !/^(0|false|no)$/i.test(v.trim());
}

/** The default guest's files: its manifest and every file the manifest names. */
export function guestFiles(): string[] {
  if (!existsSync(MANIFEST)) return [MANIFEST];
  const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, unknown>;
  const named = [m.kernel, m.vmlinux, m.initrd].filter((f): f is string => typeof f === 'string');
  return [MANIFEST, ...named.map((f) => join(IMAGES, f))];
}

/** The disk guest's manifest and its image. */
export function diskGuestFiles(): string[] {
  if (!existsSync(DISK_MANIFEST)) return [DISK_MANIFEST];
  const m = JSON.parse(readFileSync(DISK_MANIFEST, 'utf8')) as Record<string, unknown>;
  return [DISK_MANIFEST, join(IMAGES, String(m.disk))];
}

/**
 * Whether every path in `paths` exists, for the tests named by `what` to run. When some are
 * missing: under CI, registers a test that fails and names them (the caller skips its own tests,
 * which would otherwise each fail on ENOENT); outside CI, prints a loud warning.
 * Call it at the top level of a test file (it may register a test there).
 */
export function haveBuildOutputs(what: string, paths: string[]): boolean {
  const missing = paths.filter((p) => !existsSync(p)).map((p) => relative(ROOT, p));
  if (missing.length === 0) return true;
  const how = 'run `npm run build:core` and `npm run build:images` (or `npm test`, which runs both)';
  if (underCI()) {
    it(`build outputs for ${what} are present`, () => {
      throw new Error(`missing under CI: ${missing.join(', ')}; a build step failed or was skipped (${how})`);
    });
  } else {
    const bar = '!'.repeat(100);
    console.warn(`${bar}\n!!! SKIPPED: ${what}\n!!! missing: ${missing.join(', ')}\n!!! ${how}.\n` +
      `!!! Under CI (CI=1, as .ci/run sets) this is a failure, not a skip.\n${bar}`);
  }
  return false;
}
