// The other thread for ring.test.ts (a worker_threads worker). Plain JS so Node can start it
// directly; it loads the TypeScript ring through tsx's loader API.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { ByteRing } = await tsImport('../../src/worker/ring.ts', import.meta.url);
const { buffer, role, total, seed } = workerData;
const ring = new ByteRing(buffer);
const state = { x: seed };
function next() {
  let x = state.x;
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  state.x = x >>> 0;
  return state.x & 0xff;
}

if (role === 'produce') {
  // Odd chunk sizes so writes straddle the wrap point in every possible way.
  let sent = 0;
  const chunk = new Uint8Array(997);
  while (sent < total) {
    const len = Math.min(chunk.length, total - sent);
    for (let i = 0; i < len; i++) chunk[i] = next();
    let off = 0;
    while (off < len) {
      const seenRead = ring.readCount;
      const n = ring.write(chunk.subarray(off, len));
      off += n;
      if (n === 0 && ring.waitForSpace(seenRead, 10_000) === 'timed-out') throw new Error('consumer stalled');
    }
    sent += len;
  }
} else {
  let received = 0;
  let mismatches = 0;
  const buf = new Uint8Array(333);
  while (received < total) {
    const seen = ring.writeCount;
    const n = ring.readInto(buf);
    if (n === 0) {
      if (ring.waitForData(seen, 10_000) === 'timed-out') throw new Error('producer stalled');
      continue;
    }
    for (let i = 0; i < n; i++) if (buf[i] !== next()) mismatches++;
    received += n;
  }
  parentPort.postMessage({ mismatches, received });
}
