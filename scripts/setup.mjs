#!/usr/bin/env node
// `npm run setup`: prepares a fresh Debian 12 machine (as root) for building and testing webx86,
// then builds the guest images. Safe to run again: every step skips what is already done.

import { spawnSync } from 'node:child_process';

const PACKAGES = ['gcc-multilib', 'nasm', 'chromium', 'seabios', 'cpio', 'xz-utils', 'extlinux', 'syslinux-common', 'e2fsprogs', 'file', 'xorriso', 'isolinux', 'tcpdump', 'gdb'];

function say(message) {
  console.log(`setup: ${message}`);
}

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

/** Run a command quietly; returns { ok, out } with stdout+stderr for messages. */
function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

const lastLine = (text) => text.split('\n').filter(Boolean).pop() ?? '';

if (sh('sh', ['-c', 'command -v apt-get && command -v dpkg']).ok === false) fail('apt-get/dpkg not found: this script needs Debian 12 (or a derivative)');
if (process.getuid?.() !== 0) fail('run as root (apt-get install needs it): sudo npm run setup');

// 1. The i386 architecture, for apt-get download of the guest's kernel and busybox.
if (sh('dpkg', ['--print-foreign-architectures']).out.split('\n').includes('i386')) {
  say('i386 architecture already added');
} else {
  const r = sh('dpkg', ['--add-architecture', 'i386']);
  if (!r.ok) fail(`dpkg --add-architecture i386 failed: ${lastLine(r.out)}`);
  say('added the i386 architecture');
}

// 2. Package indexes. A mirror that fails is only a warning: the others may be enough.
{
  const r = sh('apt-get', ['update']);
  const failed = r.out.split('\n').filter((l) => /^(W|E|Err):/.test(l));
  // "Err:5 http://... Packages" names the index; the E: lines after it say why.
  const first = failed.find((l) => l.startsWith('Err:')) ?? failed[0] ?? lastLine(r.out);
  if (r.ok && failed.length === 0) say('apt-get update done');
  else say(`warning: apt-get update: ${failed.length} problem line(s), first: ${first.replace(/^Err:\d+\s*/, 'failed ')}`);
}

// 3. Host tools: only the packages not installed yet.
{
  const missing = PACKAGES.filter((p) => !/^install ok installed$/m.test(sh('dpkg-query', ['-W', '-f=${Status}\n', p]).out));
  if (missing.length === 0) {
    say(`packages already installed: ${PACKAGES.join(' ')}`);
  } else {
    const r = sh('apt-get', ['install', '-y', ...missing]);
    if (!r.ok) fail(`apt-get install ${missing.join(' ')} failed: ${lastLine(r.out)}`);
    say(`installed ${missing.join(' ')}`);
  }
}

// 4. Guest images (kernel, vmlinux, initramfs), skipped by the recipe itself when up to date.
{
  say('npm run build:images');
  const r = spawnSync('npm', ['run', '--silent', 'build:images'], { stdio: 'inherit' });
  if (r.status !== 0) fail('npm run build:images failed');
}
say('done');
