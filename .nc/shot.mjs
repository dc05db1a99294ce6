import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
for (const [host, file] of [['localhost', '/tmp/nc-localhost.png'], ['127.0.0.1', '/tmp/nc-127.png']]) {
  const p = await b.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await p.goto(`http://${host}:8787/`);
  await p.waitForTimeout(2500);
  if (host === '127.0.0.1') {
    // Sign up as a newcomer would.
    await p.getByLabel('Display name').fill('Newcomer');
    await p.getByLabel('Handle').fill('newcomer' + Date.now() % 10000);
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.waitForTimeout(1500);
    const words = await p.locator('ol li').allInnerTexts().catch(() => []);
    console.log('phrase words shown', words.length);
    await p.getByRole('button', { name: 'I have written it down' }).click();
    await p.waitForTimeout(500);
    const labels = await p.locator('label').allInnerTexts();
    for (const l of labels) { const m = /Word #(\d+)/.exec(l); if (m) await p.getByLabel(l.trim()).fill(words[Number(m[1]) - 1].replace(/^\d+\.?\s*/, '').trim()); }
    await p.getByRole('button', { name: 'Create account' }).click();
    await p.waitForTimeout(4000);
    await p.getByRole('textbox').first().fill('Hello from a newcomer').catch(() => {});
    await p.getByRole('button', { name: /^Post/ }).first().click().catch((e) => console.log('post click', e.message));
    await p.waitForTimeout(2500);
  }
  await p.screenshot({ path: file });
  console.log(host, 'title', await p.title(), 'errors', errors.slice(0, 5));
}
await b.close();
