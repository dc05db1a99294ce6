import { launchChromium } from './test-support/browser.ts';
const b = await launchChromium();
const ctx = await b.newContext({ viewport: { width: 1100, height: 800 } });
const p = await ctx.newPage();
p.on('pageerror', (e) => console.log('pageerror:', e.message.slice(0, 500)));
p.on('console', (m) => m.type() === 'error' && console.log('console:', m.text().slice(0, 300)));
await p.goto('http://localhost:8897/');
await p.getByRole('button', { name: 'Create an account' }).click();
await p.getByLabel('Display name').fill('Alice Liddell');
await p.getByLabel('Handle').fill('alice');
await p.getByRole('button', { name: 'Continue' }).click();
const words = await p.locator('ol.phrase li').allTextContents();
console.log('words', words.length);
await p.screenshot({ path: '/tmp/web1/phrase.png' });
await p.getByRole('button', { name: 'I have written it down' }).click();
for (const label of await p.locator('form label').allTextContents()) {
  const n = Number(/#(\d+)/.exec(label)![1]);
  await p.getByLabel(`Word #${n}`, { exact: true }).fill(words[n - 1]!);
}
await p.getByRole('button', { name: 'Create account' }).click();
await p.getByLabel('Post text').waitFor({ timeout: 20000 });
await p.getByLabel('Post text').fill('Hello from the browser! My keys never leave it.');
await p.getByRole('button', { name: 'Post', exact: true }).click();
await p.getByText('Hello from the browser!').first().waitFor({ timeout: 10000 });
await new Promise((r) => setTimeout(r, 1500));
await p.screenshot({ path: '/tmp/web1/home.png' });
console.log(await p.locator('.status').textContent());
await b.close();
