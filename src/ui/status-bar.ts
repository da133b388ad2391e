// The page's status bar, download progress and error box: what the VM worker reports, in words.
import type { DownloadProgress, VmStatus } from '../worker/vm-worker.js';

export const errorBox = document.getElementById('error')!;
const progressBox = document.getElementById('progress')!;
const progressBar = document.getElementById('progress-bar') as HTMLProgressElement;
const progressText = document.getElementById('progress-text')!;
const statusState = document.getElementById('status-state')!;
const statusSpeed = document.getElementById('status-speed')!;
const statusClock = document.getElementById('status-clock')!;
const statusTime = document.getElementById('status-time')!;
const statusJit = document.getElementById('status-jit')!;
const statusDisk = document.getElementById('status-disk')!;

export function showError(message: string): void {
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusState.textContent = 'error';
  statusState.className = 'error';
}

export function clearError(): void {
  errorBox.hidden = true;
  errorBox.textContent = '';
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;
}

export function showProgress(p: DownloadProgress): void {
  progressBox.hidden = p.done;
  const name = p.url.slice(p.url.lastIndexOf('/') + 1) || p.url;
  if (p.total) {
    progressBar.max = p.total;
    progressBar.value = p.loaded;
    progressText.textContent = `${p.what} ${name}: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`;
  } else {
    progressBar.removeAttribute('value');
    progressText.textContent = `${p.what} ${name}: ${formatBytes(p.loaded)}`;
  }
}

export function showStatus(s: VmStatus): void {
  const label = s.phase === 'downloading' ? 'downloading'
    : s.phase === 'starting' ? 'starting'
    : s.state;
  statusState.textContent = label;
  statusState.className = s.state === 'error' ? 'error' : s.state === 'running' ? 'running' : '';
  statusSpeed.textContent = s.state === 'running' || s.state === 'halted' ? `${(s.ips / 1e6).toFixed(1)} MIPS` : '';
  statusClock.textContent = s.clock === 'deterministic' ? 'deterministic clock' : 'real-time clock';
  statusTime.textContent = s.instructions > 0 ? `guest ${s.guestSeconds.toFixed(1)} s` : '';
  statusDisk.textContent = s.disk ? `disk: ${formatBytes(s.disk.fetched)} of ${formatBytes(s.disk.size)} fetched` : '';
  statusDisk.title = s.disk ? `${s.disk.requests} range requests; the rest of the image is fetched when the guest reads it` : '';
  const j = s.jit;
  statusJit.textContent = !j ? '' : j.threshold === 0 ? 'JIT off'
    : `JIT: ${j.translations} regions, ${formatBytes(j.cacheBytes)} cache, ${s.instructions > 0 ? ((100 * j.instructions) / s.instructions).toFixed(0) : 0}% translated`;
  statusJit.title = j ? `${j.bytesEmitted} bytes emitted from ${j.guestBytes} bytes of guest code, compiled as ${j.modules} modules, ${j.compileMs.toFixed(0)} ms compiling, ${j.calls} calls, ${j.chained} chained, ${j.evictions} evictions` : '';
}

export function hideProgress(): void { progressBox.hidden = true; }
