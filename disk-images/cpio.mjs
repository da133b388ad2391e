// A newc cpio archive written in JS, the format the kernel unpacks as an initramfs, so building
// one needs neither root nor a cpio tool.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export class Cpio {
  chunks = [];
  length = 0;
  ino = 1;
  dirs = new Set();
  add(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
    const nameBytes = Buffer.from(name + '\0');
    const fields = [
      this.ino++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0,
    ];
    const header = '070701' + fields.map((v) => v.toString(16).padStart(8, '0')).join('');
    this.push(Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]));
    this.push(data);
  }
  push(buf) {
    this.chunks.push(buf);
    this.length += buf.length;
    if (this.length % 4) this.push(Buffer.alloc(4 - (this.length % 4)));
  }
  dir(name) { this.dirs.add(name); this.add(name, S_IFDIR | 0o755); }
  /** The directories of `path` not added yet, parents first. */
  mkdirs(path) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!this.dirs.has(d)) this.dir(d);
    }
  }
  file(name, data, perm = 0o644) { this.add(name, S_IFREG | perm, data); }
  symlink(name, target) { this.add(name, S_IFLNK | 0o777, Buffer.from(target)); }
  chr(name, major, minor, perm = 0o600) { this.add(name, S_IFCHR | perm, Buffer.alloc(0), [major, minor]); }
  /** Kernel modules picked by collectModules (debian.mjs) under lib/modules/<release>, with their modules.dep. */
  modules(release, modRoot, mods) {
    const base = `lib/modules/${release}`;
    this.mkdirs(base);
    for (const f of mods.files) {
      this.mkdirs(dirname(`${base}/${f}`));
      this.file(`${base}/${f}`, readFileSync(join(modRoot, f)));
    }
    this.file(`${base}/modules.dep`, Buffer.from(mods.dep));
  }
  finish() {
    this.add('TRAILER!!!', 0);
    return Buffer.concat(this.chunks);
  }
}
