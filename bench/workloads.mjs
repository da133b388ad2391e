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
