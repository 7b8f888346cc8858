// `npm run diagrams`: writes diagrams/<machine>.mmd and diagrams/README.md from the machine definitions.
// `--check` writes nothing and exits 1 when the committed files differ (the unit test does the same in CI).
import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagramFiles, EDGENET_DIAGRAMS, machineToMermaid } from '../src/util/diagrams.ts';

const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'diagrams');
const check = process.argv.includes('--check');
const files = diagramFiles(EDGENET_DIAGRAMS);

const current = async (name: string): Promise<string | undefined> => readFile(join(dir, name), 'utf8').catch(() => undefined);
// .mmd files of machines that no longer exist go too
const stale = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.mmd') && !files.has(f));

const changed: string[] = [];
for (const [name, text] of files) if ((await current(name)) !== text) changed.push(name);

if (check) {
  const problems = [...changed.map((f) => `diagrams/${f} differs`), ...stale.map((f) => `diagrams/${f} has no machine`)];
  if (problems.length > 0) {
    console.error(`${problems.join('\n')}\nrun npm run diagrams`);
    process.exit(1);
  }
  console.log('diagrams up to date');
} else {
  // the README embeds the same diagrams, in the same order: its ```mermaid blocks are replaced one by one
  const readmePath = resolve(dir, '..', 'README.md');
  const readme = await current('../README.md');
  if (readme !== undefined) {
    const generated = EDGENET_DIAGRAMS.map((d) => machineToMermaid(d.machine, { overview: d.overview === true }));
    let i = 0;
    const next = readme.replace(/```mermaid\n[\s\S]*?```/g, (block) => {
      const body = generated[i++];
      return body === undefined ? block : `\`\`\`mermaid\n${body.endsWith('\n') ? body : `${body}\n`}\`\`\``;
    });
    if (next !== readme) {
      await writeFile(readmePath, next);
      changed.push('../README.md');
    }
  }
  await mkdir(dir, { recursive: true });
  for (const name of changed) if (files.has(name)) await writeFile(join(dir, name), files.get(name) ?? '');
  for (const name of stale) await unlink(join(dir, name));
  console.log(changed.length + stale.length > 0 ? `wrote ${[...changed, ...stale.map((f) => `-${f}`)].map((f) => `diagrams/${f}`).join(', ')}` : 'diagrams up to date');
  if (changed.some((f) => f.endsWith('.mmd')) || stale.length > 0) console.log('now run npm run diagrams:svg (the SVGs are drawn from the .mmd files)');
}
