// The guest workloads the benchmarks run in the default guest (busybox's shell): an untimed
// set-up, then timed commands, each printing one line that must be the same in every run.
// bench/guest.mjs runs them all in webx86 and in v86; bench/loops.mjs runs one many times in
// one boot of webx86.

export const SETUP = 'seq 1 100000 > /tmp/lines; seq 100000 -1 1 > /tmp/rev; dd if=/dev/zero of=/tmp/zero bs=1M count=8 2>/dev/null';

export const WORKLOADS = [
  { key: 'sha256', name: 'sha256 of 8 MiB', cmd: 'sha256sum /tmp/zero' },
  { key: 'gzip', name: 'gzip round trip', cmd: 'gzip -c /tmp/lines | gunzip -c | md5sum' },
  { key: 'awk', name: 'x87 loop in awk', cmd: "awk 'BEGIN { s = 0; for (i = 1; i <= 100000; i++) s += 1 / (i * i); printf \"%.9f\\n\", s }'" },
  { key: 'fork', name: '300 fork+exec', cmd: 'i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done; echo $i' },
  { key: 'sort', name: 'sort 100k lines', cmd: 'sort -n /tmp/rev | md5sum' },
  { key: 'bzip2', name: 'bzip2 round trip', cmd: 'bzip2 -c /tmp/lines | bunzip2 -c | md5sum' },
];

// How a benchmark types a command and finds its end: an echoed marker, split in the typed line
// ("@@E""ND"), so that only the command's output holds it whole (the terminal echoes the line).
/** The line to type for `cmd`, marked `id`. */
export const markedLine = (cmd, id) => `${cmd}; echo "@@E""ND${id}@@"\n`;
/**
 * Where the output of the command marked `id`, typed at `from` in `out`, ends, and its last
 * non-empty line (every workload prints one line; the echoed, wrapped command line comes
 * before it); null while its marker has not appeared.
 */
export function markedResult(out, from, id) {
  const at = out.indexOf(`@@END${id}@@`, from);
  if (at < 0) return null;
  const lines = out.slice(from, at).replace(/\r/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return { at, line: lines.at(-1) ?? '' };
}

/** The geometric mean of positive numbers; null for none. */
export const geomean = (xs) => (xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : null);

export const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
