import { createServer } from 'vite';
import { chromium } from 'playwright-core';
const server = await createServer({ configFile: '/work/main/vite.config.ts', server: { port: 0, host: '127.0.0.1', hmr:false }, logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls.local[0];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--headless','--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
await page.goto(url);
await page.waitForFunction(() => window.__webx86?.ready, null, { timeout: 30000 });
const text = () => page.evaluate(() => window.__webx86.serialText());
await page.waitForFunction(() => /~ #\s*$/.test(window.__webx86.serialText()), null, { timeout: 600000, polling: 500 });
console.log('prompt at', (await page.evaluate(() => performance.now()/1000)).toFixed(1));
for (const cmd of ['i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; echo loop-$i', '(echo forked-sub)', 'date +%s', 'x=$(date +%s); echo got-$x', '/bin/busybox true; echo exec-ok']) {
  const before = (await text()).length;
  const t0 = Date.now();
  await page.evaluate((c) => window.__webx86.type(c + '\r'), cmd);
  let ok = false;
  while (Date.now() - t0 < 40000) { await page.waitForTimeout(200); const t = await text(); if (t.length > before + cmd.length + 4 && /~ #\s*$/.test(t)) { ok = true; break; } }
  console.log(JSON.stringify(cmd), ok ? `done in ${(Date.now()-t0)/1000}s` : 'NO PROMPT after 40s', JSON.stringify((await text()).slice(before).slice(-200)));
  if (!ok) await page.evaluate(() => window.__webx86.type('\x03\r'));
}
await browser.close(); await server.close();
