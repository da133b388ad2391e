// Lesson 6: save, restore, and live migration between two <x86-vm> elements (each its own worker).
// Every figure is the machinery's own: the snapshot file's size, the time from the file to the
// restored shell's prompt (the element's `ready` event), and the migration's rounds and downtime
// as the source's worker measured them (src/worker/worker-migrate.ts).
import { byId, count, quietWhenReady, runAgainOnce, runButton, setFigure, showError, vmById, words, type X86VmElement } from './lesson.js';
import type { X86VmMigrationRound } from '../embed/index.js';

const a = vmById('vm-a');
const b = vmById('vm-b');
quietWhenReady(a);
quietWhenReady(b);
a.addEventListener('ready', () => { byId('status').textContent = 'the left PC is at its prompt'; }, { once: true });

let saved: Blob | null = null;
const restoreButton = byId<HTMLButtonElement>('restore');

runButton('save', [a], async () => {
  // A mark in the guest's RAM disk, to find in the restored machine.
  await a.run(`echo saved-at-$(cat /proc/uptime | cut -d' ' -f1) > /tmp/mark`);
  const started = performance.now();
  saved = await a.snapshot();
  setFigure('snap-ms', `${Math.round(performance.now() - started)} ms`);
  setFigure('snap-size', `${(saved.size / 1048576).toFixed(1)} MiB (of 64 MiB RAM)`);
  restoreButton.disabled = false;
});

restoreButton.addEventListener('click', () => {
  if (!saved) return;
  restoreButton.disabled = true;
  showError('');
  const done = new Promise<number>((resolve) => b.addEventListener('ready', (e) => resolve((e as CustomEvent<{ ms: number }>).detail.ms), { once: true }));
  b.restore(saved)
    .then(async () => {
      setFigure('restore-ms', `${Math.round(await done)} ms`);
      setFigure('restore-mark', await runAgainOnce(b, 'cat /tmp/mark', 30_000));
    })
    .catch((e) => showError(words(e)))
    .finally(() => { restoreButton.disabled = saved === null; });
});

const roundsBody = byId('rounds').querySelector('tbody')!;
function showRound(r: X86VmMigrationRound): void {
  const tr = document.createElement('tr');
  for (const v of [String(r.round), count(r.pages), count(r.zeroPages), count(r.dirtied), (r.bytes / 1048576).toFixed(2), count(r.ms)]) {
    const td = document.createElement('td');
    td.className = 'n';
    td.textContent = v;
    tr.appendChild(td);
  }
  roundsBody.appendChild(tr);
  setFigure('mig-rounds', String(roundsBody.rows.length));
}

/** The element whose machine runs at its prompt: the one to move. */
const running = (): [X86VmElement, X86VmElement] => (a.state === 'running' && a.ready ? [a, b] : [b, a]);

// Enabled once either PC is ready (the right one may be running after a restore or a migration).
const migrateButton = byId<HTMLButtonElement>('migrate');
for (const vm of [a, b]) vm.addEventListener('ready', () => { migrateButton.disabled = false; });
migrateButton.addEventListener('click', () => {
  migrateButton.disabled = true;
  showError('');
  void migrate().catch((e) => showError(words(e))).finally(() => { migrateButton.disabled = !(a.ready || b.ready); });
});

async function migrate(): Promise<void> {
  const [from, to] = running();
  roundsBody.replaceChildren();
  // Writes 2 MiB of its RAM disk over and over: pages the pre-copy rounds must send again.
  const pid = (await from.run('(while :; do dd if=/dev/zero of=/tmp/busy bs=64k count=32 2>/dev/null; done) > /dev/null 2>&1 & echo $!')).trim();
  const name = `lesson-${Math.random().toString(36).slice(2, 10)}`;
  byId('status').textContent = `moving the ${from === a ? 'left' : 'right'} PC…`;
  const arrived = to.receive(name);
  arrived.catch(() => {}); // its failure is the migration's, reported below
  // The source's offer waits a few seconds for a taker: let the target's worker be listening first.
  for (let i = 0; i < 100 && to.state !== 'restoring'; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const summary = await from.migrate(name, showRound);
  await arrived;
  setFigure('mig-downtime', `${Math.round(summary.downtimeMs)} ms`);
  setFigure('mig-total', `${Math.round(summary.totalMs)} ms`);
  // The same process, moved with the machine: signal 0 only asks whether it exists.
  const alive = await to.run(`kill -0 ${pid} && echo "pid ${pid} runs on"; kill ${pid}`);
  setFigure('mig-process', alive || `pid ${pid} is gone`);
  byId('status').textContent = `the ${to === a ? 'left' : 'right'} PC runs the machine now`;
}
