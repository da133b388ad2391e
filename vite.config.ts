// Vite setup for the web page (index.html -> src/ui/main.ts, which starts src/worker/vm-worker.ts).
//
// The page needs SharedArrayBuffer (serial/key rings between the page and the VM worker), which
// browsers only grant to cross-origin-isolated pages: every response, the worker script included,
// carries COOP same-origin + COEP require-corp, both from the dev server and from `vite preview`.
//
// Guest images are build outputs (disk-images/build.mjs writes build/images/), not sources:
// the `guestImages` plugin serves them at /images/* in dev and preview, and copies them into
// <outDir>/images on `vite build`, so a production build is self-contained.
//
// The `wispRelay` plugin answers Wisp WebSockets at /wisp/ on the same server (dev and preview),
// the relay the page's `?net=user` uses by default (src/net/wisp-server.ts). Guests may reach
// the host's loopback and private addresses through it (10.0.2.2 is the host's 127.0.0.1) when
// the server listens on loopback only, as it does by default; a server opened to the network
// (--host) denies them. WEBX86_WISP_PRIVATE=allow or =deny decides instead.
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync, copyFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { WISP_PATH } from './src/net/wisp-path.ts';
import { attachWispServer, isLoopbackHost } from './src/net/wisp-server.ts';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const IMAGES_DIR = join(ROOT, 'build', 'images');
const IMAGES_PREFIX = '/images/';

/** The lesson pages, lessons/NAME.html (index.html lists them). */
const LESSONS = ['index', 'emulation', 'traps', 'mmu', 'disks', 'balloon', 'snapshots', 'entropy']
  .filter((name) => existsSync(join(ROOT, 'lessons', `${name}.html`)));

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.gz': 'application/gzip',
  '.xz': 'application/x-xz',
};

/** Serve one file from `dir` for a /images/ request; 404 (never the SPA fallback) when missing. */
function serveImage(dir: string, req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const url = req.url ?? '';
  if (!url.startsWith(IMAGES_PREFIX)) return next();
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  let name: string;
  try {
    name = decodeURIComponent(url.slice(IMAGES_PREFIX.length).split(/[?#]/)[0]);
  } catch {
    name = '';
  }
  const file = resolve(dir, name);
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
  if (!name || !file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`guest image not found: ${url}\n`);
    return;
  }
  const size = statSync(file).size;
  const ext = name.slice(name.lastIndexOf('.'));
  res.setHeader('Content-Type', CONTENT_TYPES[ext] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Accept-Ranges', 'bytes');
  // Byte ranges, for later HTTP-backed disks; a single range is all we need.
  const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
  let start = 0;
  let end = size - 1;
  if (range && (range[1] || range[2])) {
    if (range[1]) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    } else {
      start = Math.max(0, size - Number(range[2]));
    }
    if (start > end || start >= size) {
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${size}`);
      res.end();
      return;
    }
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}

function guestImages(): Plugin {
  let outDir = '';
  let isBuild = false;
  return {
    name: 'webx86-guest-images',
    configResolved(config) {
      isBuild = config.command === 'build';
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => serveImage(IMAGES_DIR, req, res, next));
    },
    configurePreviewServer(server) {
      // Serve the copy inside the build, or build/images for a build made before images existed.
      server.middlewares.use((req, res, next) => {
        const built = join(outDir, 'images');
        serveImage(existsSync(built) ? built : IMAGES_DIR, req, res, next);
      });
    },
    writeBundle() {
      if (!isBuild || !existsSync(IMAGES_DIR)) return;
      // Copied (not emitted through the bundle) so multi-megabyte images never sit in memory.
      const copyDir = (from: string, to: string): void => {
        mkdirSync(to, { recursive: true });
        for (const name of readdirSync(from)) {
          const f = join(from, name);
          if (statSync(f).isDirectory()) copyDir(f, join(to, name)); // bios/
          else copyFileSync(f, join(to, name));
        }
      };
      copyDir(IMAGES_DIR, join(outDir, 'images'));
    },
  };
}

/**
 * The build's output folder as the <x86-vm> npm package: its type declarations in types/ and a
 * package.json (src/embed/package-files.mjs makes them). Made in a worker thread started with the
 * build, so loading TypeScript (about a second) overlaps the bundling; written once the bundle
 * is (vite empties outDir before that); a declaration that cannot be made fails the build.
 */
function embedPackage(): Plugin {
  type Made = { files: Record<string, string> } | { problem: string };
  let made: Promise<Made> | null = null;
  return {
    name: 'webx86-embed-package',
    buildStart() {
      made = null;
      if (this.environment.config.command !== 'build' || this.environment.name !== 'client') return;
      const worker = new Worker(new URL('./src/embed/package-files.mjs', import.meta.url), { workerData: { root: ROOT } });
      made = new Promise((done) => {
        worker.once('message', (m: Made) => done(m));
        worker.once('error', (e) => done({ problem: e.message }));
      });
    },
    async writeBundle(options) {
      if (!made || !options.dir) return;
      const m = await made;
      if ('problem' in m) throw new Error(`the <x86-vm> package: ${m.problem}`);
      for (const [path, text] of Object.entries(m.files)) {
        mkdirSync(dirname(join(options.dir, path)), { recursive: true });
        writeFileSync(join(options.dir, path), text);
      }
    },
  };
}

/** May guests reach the host's loopback and private networks through a server bound to `host`? */
function allowPrivate(host: string | boolean | undefined): boolean {
  const choice = process.env.WEBX86_WISP_PRIVATE;
  if (choice === 'allow') return true;
  if (choice === 'deny') return false;
  if (choice) throw new Error(`WEBX86_WISP_PRIVATE=${choice}: use allow or deny`);
  return isLoopbackHost(host);
}

function wispRelay(): Plugin {
  return {
    name: 'webx86-wisp-relay',
    configureServer(server) {
      // No HTTP server in middleware mode: whoever embeds Vite serves the relay, if anyone.
      if (server.httpServer) attachWispServer(server.httpServer, { path: WISP_PATH, allowPrivate: allowPrivate(server.config.server.host) });
    },
    configurePreviewServer(server) {
      attachWispServer(server.httpServer, { path: WISP_PATH, allowPrivate: allowPrivate(server.config.preview.host) });
    },
  };
}

export default defineConfig({
  root: ROOT,
  publicDir: 'public',
  plugins: [guestImages(), wispRelay(), embedPackage()],
  server: {
    headers: ISOLATION_HEADERS,
    // The page's test starts its own server on a free port.
    strictPort: false,
  },
  preview: {
    headers: ISOLATION_HEADERS,
  },
  worker: {
    format: 'es',
  },
  optimizeDeps: {
    // Imported by the worker (src/boot/payload.ts on demand, src/net/user/wisp-relay.ts), which
    // the dev server's first crawl does not see: listed so that finding them late cannot make the
    // dev server reload the page.
    include: ['xz-decompress', '@mercuryworkshop/wisp-js/client'],
  },
  build: {
    outDir: 'dist',
    target: 'es2022',
    // The core and guest images are large binaries; never inline them as data: URLs.
    assetsInlineLimit: 0,
    rolldownOptions: {
      // The page, the <x86-vm> demo page, and the element itself as webx86.js at the build's
      // root (no hash: docs pages name it in a <script> tag), exports kept for `import`.
      input: {
        index: join(ROOT, 'index.html'),
        embed: join(ROOT, 'embed.html'),
        webx86: join(ROOT, 'src/embed/index.ts'),
        // The lessons (lessons/*.html): one page per concept, each with live VMs.
        ...Object.fromEntries(LESSONS.map((name) => [`lesson-${name}`, join(ROOT, 'lessons', `${name}.html`)])),
      },
      preserveEntrySignatures: 'allow-extension',
      output: {
        entryFileNames: (chunk) => (chunk.name === 'webx86' ? 'webx86.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
