import { createServer } from 'vite';
import { chromium } from 'playwright-core';
const server = await createServer({ configFile: '/work/main/vite.config.ts', server: { port: 0, host: '127.0.0.1', hmr:false }, logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls.local[0];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--headless','--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
page.on('console', (m) => { if (!m.text().includes('vite')) console.log('console:', m.type(), m.text().slice(0, 300)); });
page.on('pageerror', (e) => console.log('pageerror:', e.message));
await page.goto(url + (process.argv[2] ?? ''));
await page.waitForFunction(() => window.__webx86?.ready, null, { timeout: 30000 });
const t0 = Date.now();
for (let i = 0; i < Number(process.argv[3] ?? 60); i++) {
  await page.waitForTimeout(2000);
  const st = await page.evaluate(() => window.__webx86.status());
  const txt = await page.evaluate(() => window.__webx86.serialText());
  const err = await page.evaluate(() => window.__webx86.errorText());
  console.log(((Date.now()-t0)/1000).toFixed(0), JSON.stringify(st), 'err:', err, '| last:', JSON.stringify(txt.slice(-160)));
  if (err || /~ #\s*$/.test(txt)) break;
}
await page.screenshot({ path: '/tmp/shot.png' });
console.log((await page.evaluate(() => window.__webx86.serialText())).slice(-3000));
await browser.close(); await server.close();
