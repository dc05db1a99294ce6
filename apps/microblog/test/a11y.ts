import type { CDPSession, Page } from 'playwright-core';

/** Roles a person operates: each needs a name that says what it does. */
const CONTROLS = new Set(['button', 'link', 'textbox', 'searchbox', 'checkbox', 'radio', 'combobox', 'menuitem', 'slider', 'spinbutton', 'switch', 'tab']);

interface AXNode {
  ignored: boolean;
  role?: { value: string };
  name?: { value: string };
  properties?: { name: string; value: { value: unknown } }[];
  backendDOMNodeId?: number;
}

/**
 * What is wrong with the screen as assistive technology reads it (Chromium's own accessibility tree): controls
 * whose name is empty or holds no word (a bare "♥ 1"), and h1 headings other than exactly one.
 */
export async function a11yProblems(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AXNode[] };
    const problems: string[] = [];
    const live = nodes.filter((n) => !n.ignored);
    for (const n of live) {
      const role = n.role?.value ?? '';
      if (!CONTROLS.has(role)) continue;
      const name = String(n.name?.value ?? '').trim();
      if (!/\p{L}|\p{N}{2,}/u.test(name)) problems.push(`${role} named "${name}": ${await outerHtml(cdp, n.backendDOMNodeId)}`);
    }
    const level = (n: AXNode) => n.properties?.find((p) => p.name === 'level')?.value.value;
    const h1 = live.filter((n) => n.role?.value === 'heading' && level(n) === 1).map((n) => n.name?.value ?? '');
    if (h1.length !== 1) problems.push(`${h1.length} h1 headings: ${JSON.stringify(h1)}`);
    return problems;
  } finally {
    await cdp.detach();
  }
}

async function outerHtml(cdp: CDPSession, backendNodeId?: number): Promise<string> {
  if (backendNodeId === undefined) return '?';
  const { outerHTML } = (await cdp.send('DOM.getOuterHTML', { backendNodeId })) as { outerHTML: string };
  return outerHTML.slice(0, 160);
}

/**
 * Tabs through the screen from the top: where each stop is and whether it shows a focus ring. A stop is described
 * as the landmark it is in and its box.
 */
export async function tabStops(page: Page, max: number): Promise<{ landmark: string; name: string; x: number; y: number; ring: boolean }[]> {
  await page.bringToFront();
  // Focusing the body moves where the next Tab starts from to the top of the page.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
    window.scrollTo(0, 0);
  });
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return undefined;
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const landmark = el.closest('nav, main, header, aside, footer')?.tagName.toLowerCase() ?? 'none';
      const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40);
      return { landmark, name, x: r.left + window.scrollX, y: r.top + window.scrollY, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
    });
    if (!stop) break;
    stops.push(stop);
  }
  return stops;
}

/** The bytes of JavaScript a page fetches over the network from now on (as the provider sends them), by path. */
export function countScripts(page: Page): { bytes(): number; files(): string[] } {
  const sizes = new Map<string, number>();
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.js')) sizes.set(path, Number(r.headers()['content-length']));
  });
  return { bytes: () => [...sizes.values()].reduce((a, b) => a + b, 0), files: () => [...sizes.keys()] };
}
