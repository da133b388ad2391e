// bin/webx86 runs the CLI from a bundle it makes under build/ (esbuild), and never a stale one:
// each case runs the real bin/webx86 in a scratch copy of the project whose src/ holds a small
// CLI, edits that source, and checks what runs. The repository's node_modules (esbuild, tsx)
// are linked in.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '../..');
const project = mkdtempSync(join(tmpdir(), 'webx86-start-'));
const bin = join(project, 'bin', 'webx86');
const build = join(project, 'build');

mkdirSync(join(project, 'bin'));
mkdirSync(join(project, 'src', 'node'), { recursive: true });
mkdirSync(join(project, 'src', 'cpu'));
copyFileSync(join(REPO, 'bin', 'webx86'), bin);
copyFileSync(join(REPO, 'package.json'), join(project, 'package.json'));
copyFileSync(join(REPO, 'tsconfig.json'), join(project, 'tsconfig.json'));
symlinkSync(join(REPO, 'node_modules'), join(project, 'node_modules'));
// The machine imports src/cpu/core-file by a path relative to itself: the bundle keeps it beside.
writeFileSync(join(project, 'src', 'cpu', 'core-file.ts'), 'export const WHERE: string = import.meta.url;\n');
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The bundle's modification time, or -Infinity before the first run. */
function bundled(): number {
  const path = join(build, 'node', 'cli.js');
  return existsSync(path) ? statSync(path).mtimeMs : -Infinity;
}

/**
 * Write a source file as an edit made after the last bundle: its time is the bundle's plus 1 ms
 * (before the first bundle, ten seconds ago), never in the future, so that a new bundle is newer.
 */
function writeSource(rel: string, text: string): void {
  const path = join(project, 'src', rel);
  writeFileSync(path, text);
  touch(path);
}

function touch(path: string): void {
  const t = new Date(Number.isFinite(bundled()) ? bundled() + 1 : Date.now() - 10_000);
  utimesSync(path, t, t);
}

function cli(version: string): void {
  writeSource('node/version.ts', `export const VERSION: string = '${version}';\n`);
  writeSource('node/cli.ts', [
    "import { VERSION } from './version.js';",
    "const where = '../cpu/core-file.js';",
    'const { WHERE } = await import(where);',
    'process.stdout.write(`${VERSION} ${import.meta.url} ${WHERE} ${process.argv.slice(2).join(",")}\\n`);',
    '',
  ].join('\n'));
}

function run(...args: string[]) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bin/webx86 start-up', () => {
  it('runs the CLI bundled under build/, with its arguments and src/ layout', () => {
    cli('v1');
    const r = run('run', '--x');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [version, self, coreFile, args] = r.stdout.trim().split(' ');
    expect(version).toBe('v1');
    expect(self).toMatch(/\/build\/node\/cli\.js$/);
    expect(coreFile).toMatch(/\/build\/cpu\/core-file\.js$/);
    expect(args).toBe('run,--x');
  });

  it('bundles again after an edit anywhere under src/', () => {
    cli('v1');
    expect(run().stdout).toMatch(/^v1 /);
    writeSource('node/version.ts', "export const VERSION: string = 'v2';\n");
    expect(run().stdout).toMatch(/^v2 /);
  });

  it('bundles again after a file under src/ is deleted', () => {
    cli('v3');
    writeSource('node/extra.ts', "export const EXTRA = 'x';\n");
    writeSource('node/cli.ts', "import { EXTRA } from './extra.js';\nprocess.stdout.write(`${EXTRA}\\n`);\n");
    expect(run().stdout).toBe('x\n');
    // The directory's time changes with the deletion: the import of the missing file now fails.
    rmSync(join(project, 'src', 'node', 'extra.ts'));
    touch(join(project, 'src', 'node'));
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^webx86: cannot start: [^\n]*extra[^\n]*\n$/);
  });

  it('several CLIs starting at once after an edit all run the new source, and leave no scratch files', async () => {
    cli('v4');
    const outs = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((done) => {
      const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.on('exit', () => done(out));
    })));
    for (const out of outs) expect(out).toMatch(/^v4 .*\/build\/node\/cli\.js /);
    expect(readdirSync(build).filter((f) => f.startsWith('.cli-'))).toEqual([]);
  });

  // The launcher gives V8 the cores the guest's thread leaves free (bin/webx86 relaunch): on a
  // host with fewer than five, through a second Node process with --v8-pool-size.
  it('runs the CLI with V8\'s worker pool sized to the free cores, at most Node\'s four', () => {
    writeSource('node/cli.ts', 'process.stdout.write(JSON.stringify(process.execArgv));\n');
    const pool = Math.min(4, Math.max(1, availableParallelism() - 1));
    const argv = JSON.parse(run().stdout) as string[];
    if (pool < 4) expect(argv).toContain(`--v8-pool-size=${pool}`);
    else expect(argv.some((a) => a.startsWith('--v8-pool-size'))).toBe(false);
  });

  it('a SIGTERM to bin/webx86 reaches the CLI, and the CLI\'s exit status comes back', async () => {
    writeSource('node/cli.ts', [
      "process.on('SIGTERM', () => process.exit(7));",
      "process.stdout.write('ready\\n');",
      'setInterval(() => {}, 1000);',
      '',
    ].join('\n'));
    const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ready) => child.stdout.on('data', (d) => { if (String(d).includes('ready')) ready(); }));
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    expect(status).toBe(7);
  });

  it('killing bin/webx86 outright ends the CLI too: no guest is left running', async () => {
    writeSource('node/cli.ts', "process.stdout.write(`${process.pid}\\n`);\nsetInterval(() => {}, 1000);\n");
    const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((got) => child.stdout.on('data', (d) => got(Number(String(d).trim()))));
    child.kill('SIGKILL');
    const alive = (): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
    for (let waited = 0; alive() && waited < 4_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  });

  it('a source that does not compile gets one line and exit status 2', () => {
    cli('v5');
    writeSource('node/version.ts', 'export const VERSION: string = ;\n');
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^webx86: cannot start: [^\n]+\n$/);
  });
});
