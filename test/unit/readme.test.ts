// The README stays true to the code: its library example is examples/embed.ts (which tsc checks), its diagrams are
// what the machines generate, its EVE section is docs/eve.md, and it names every CLI verb and flag, HTTP route,
// metric, exit code and config field there is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { main, EXIT } from '../../src/cli/main.ts';
import { configSchema, localNetworkSchema, switchNetworkSchema, interfaceSchema, appSchema, portSchema, dnsSchema } from '../../src/config/config-schema.ts';
import { EDGENET_DIAGRAMS, machineToMermaid } from '../../src/util/diagrams.ts';
import { createMetrics } from '../../src/daemon/metrics.ts';
import { FakeEdgenet } from './api-fake-edgenet.ts';

const REPO = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const read = (path: string): string => readFileSync(join(REPO, path), 'utf8');

/** The fenced blocks of a markdown text, with the line before each (for markers). */
function fencedBlocks(md: string): { lang: string; body: string; before: string }[] {
  const out: { lang: string; body: string; before: string }[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === '```');
    if (end < 0) break;
    out.push({ lang: open[1] ?? '', body: `${lines.slice(i + 1, end).join('\n')}\n`, before: lines[i - 1] ?? '' });
    i = end;
  }
  return out;
}

async function help(args: string[]): Promise<string> {
  let text = '';
  await main(['node', 'edgenet', ...args, '--help'], { stdout: (t) => (text += t), stderr: (t) => (text += t) });
  return text;
}

describe('README', () => {
  it('shows examples/embed.ts verbatim as the library example', () => {
    const block = fencedBlocks(README).find((b) => b.lang === 'ts' && b.before.includes('examples/embed.ts'));
    expect(block, 'a ```ts block right after the <!-- examples/embed.ts … --> marker').toBeDefined();
    expect(block?.body, 'README library example differs from examples/embed.ts: paste the file into the README').toBe(read('examples/embed.ts'));
  });

  it('embeds every state diagram as the machines generate it', () => {
    const mermaid = fencedBlocks(README)
      .filter((b) => b.lang === 'mermaid')
      .map((b) => b.body);
    for (const { name, machine, overview } of EDGENET_DIAGRAMS) {
      const generated = machineToMermaid(machine, { overview: overview === true });
      expect(mermaid.includes(generated), `README's diagram of ${name} differs from the machine: run npm run diagrams, then paste diagrams/${name}.mmd into the README`).toBe(true);
    }
    expect(mermaid).toHaveLength(EDGENET_DIAGRAMS.length);
  });

  it('folds in docs/eve.md verbatim', () => {
    expect(README.includes(read('docs/eve.md').trimEnd()), 'README differs from docs/eve.md: paste it into the EVE controllers section').toBe(true);
  });

  it('names every CLI verb and every flag of it', async () => {
    const top = await help([]);
    const verbs = [...top.matchAll(/^ {2}(\w+) \[options\]/gm)].map((m) => m[1] as string);
    expect(verbs).toEqual(expect.arrayContaining(['run', 'apply', 'validate', 'status', 'events', 'down', 'demo']));
    const cli = README.slice(README.indexOf('## CLI'), README.indexOf('## HTTP API'));
    for (const verb of verbs) {
      expect(cli, `verb ${verb}`).toContain(`\`edgenet ${verb}`);
      const flags = [...(await help([verb])).matchAll(/(?:^|\s)(--[a-z][a-z-]*)/gm)].map((m) => m[1] as string).filter((f) => f !== '--help');
      for (const flag of new Set(flags)) {
        // hidden options (demo's --state-dir) are not in the help, so not required here
        expect(cli, `${verb} ${flag}`).toContain(flag);
      }
    }
  });

  it('lists every exit code', () => {
    const cli = README.slice(README.indexOf('**Exit codes**'), README.indexOf('**Logs.**'));
    for (const code of Object.values(EXIT)) expect(cli, `exit code ${code}`).toContain(`| \`${code}\` |`);
  });

  it('lists every HTTP route the server serves', () => {
    const server = read('src/api/server.ts');
    const routes = [...server.matchAll(/app\.(get|put|post|delete)\('([^']+)'/g)].map((m) => `${(m[1] as string).toUpperCase()} ${m[2] as string}`);
    expect(routes.length).toBeGreaterThanOrEqual(4);
    const api = README.slice(README.indexOf('## HTTP API'), README.indexOf('## Status JSON'));
    for (const route of routes) expect(api, route).toContain(`\`${route}\``);
  });

  it('lists every metric', async () => {
    const metrics = createMetrics(new FakeEdgenet());
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    metrics.close();
    expect(names.length).toBeGreaterThanOrEqual(5);
    const section = README.slice(README.indexOf('## Metrics'), README.indexOf('## Inspector'));
    for (const name of names) expect(section, name).toContain(`| \`${name}\` |`);
  });

  it('documents every config field', () => {
    const section = README.slice(README.indexOf('## Config reference'), README.indexOf('## Library API'));
    const fields = (schema: { shape: Record<string, unknown> }): string[] => Object.keys(schema.shape);
    const all: [string, z.ZodObject][] = [
      ['top level', configSchema],
      ['ports', portSchema],
      ['switch networks', switchNetworkSchema],
      ['local networks', localNetworkSchema],
      ['apps', appSchema],
      ['interfaces', interfaceSchema],
    ];
    for (const [where, schema] of all) {
      // `dns` is documented by its fields, `dns.forwarders` and `dns.hosts`
      for (const f of fields(schema).filter((k) => k !== 'dns')) expect(section, `${where}: ${f}`).toMatch(new RegExp(`\\| \`${f}\` \\|`));
    }
    for (const f of fields(dnsSchema)) expect(section, `dns.${f}`).toContain(`| \`dns.${f}\` |`);
  });
});
