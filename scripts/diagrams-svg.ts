// `npm run diagrams:svg`: renders each diagrams/<machine>.mmd to diagrams/<machine>.svg with Mermaid itself (the npm
// package, the renderer GitHub uses too) in headless Chromium (Debian's `chromium`, driven by playwright-core; no
// browser download). Each SVG starts with a comment naming the sha256 of the .mmd it was drawn from, so the unit
// test checks the SVGs are current without a browser. Labels are SVG text (no HTML in foreignObject), so every
// viewer draws them and the test can read the state names in them.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const DIR = join(REPO, 'diagrams');
const CHROMIUM = process.env.EDGENET_CHROMIUM ?? '/usr/bin/chromium';

/** The first line of every SVG: what it was drawn from. */
export function svgHeader(name: string, mmd: string, mermaidVersion: string): string {
  return `<!-- diagrams/${name}.svg: drawn by \`npm run diagrams:svg\` from ${name}.mmd (sha256 ${createHash('sha256').update(mmd).digest('hex')}) with mermaid ${mermaidVersion}: do not edit -->`;
}

async function main(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.error(`diagrams:svg: no browser at ${CHROMIUM} (apt-get install chromium, or set EDGENET_CHROMIUM)`);
    process.exit(1);
  }
  const require = createRequire(import.meta.url);
  const mermaidJs = require.resolve('mermaid/dist/mermaid.min.js');
  const mermaidVersion = (JSON.parse(await readFile(join(mermaidJs, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    // nothing leaves the machine: the page is empty and Mermaid comes from node_modules
    await page.route('**/*', (route) => route.abort());
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ path: mermaidJs });
    const names = (await readdir(DIR)).filter((f) => f.endsWith('.mmd')).map((f) => f.slice(0, -4)).sort();
    const written: string[] = [];
    for (const [i, name] of names.entries()) {
      const mmd = await readFile(join(DIR, `${name}.mmd`), 'utf8');
      const svg = await page.evaluate(
        async ({ text, id }) => {
          const m = (globalThis as unknown as { mermaid: { initialize(c: object): void; render(id: string, text: string): Promise<{ svg: string }> } }).mermaid;
          m.initialize({ startOnLoad: false, securityLevel: 'strict', htmlLabels: false, flowchart: { htmlLabels: false }, theme: 'default', fontFamily: 'sans-serif' });
          return (await m.render(id, text)).svg;
        },
        { text: mmd, id: `diagram${i}` },
      );
      const out = `${svgHeader(name, mmd, mermaidVersion)}\n${svg}\n`;
      const path = join(DIR, `${name}.svg`);
      if ((await readFile(path, 'utf8').catch(() => '')) !== out) {
        await writeFile(path, out);
        written.push(`diagrams/${name}.svg`);
      }
    }
    console.log(written.length > 0 ? `wrote ${written.join(', ')}` : 'SVGs up to date');
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
