// The package as a user gets it: `npm pack`, then the tarball installed (dependencies from the registry, through
// npm's cache) into a plain-JS ESM project and into a TypeScript project compiled by tsc with strict, NodeNext,
// exactOptionalPropertyTypes and no skipLibCheck. Each runs createEdgenet on the fake drivers, applies a config and
// prints a status; neither has tsx in its tree; importing the core loads none of fastify, commander or the
// inspector; the installed `edgenet` command runs the compiled CLI.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must, run } from '../helpers/command.ts';
import { kernelAvailable, kernelRequired, Netns, uniqueTag } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const NPM_TIMEOUT_MS = 240_000;
const CORE_MUST_NOT_LOAD = ['fastify', 'commander', '@statelyai/inspect'];

const CONFIG = {
  ports: [{ name: 'uplink', ifname: 'eth1' }],
  networks: [{ name: 'lan', type: 'local', port: 'uplink', subnet: '10.50.0.0/24' }],
  apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
};

/** The consumer's program, the same in JS and in TS (the TS one with types). */
const program = (ts: boolean): string => `import { createEdgenet${ts ? ', type ConfigInput, type EdgenetLogger, type Status' : ''} } from 'edgenet';
import { createFakeDrivers } from 'edgenet/testing';
${ts ? "import type { DaemonOptions } from 'edgenet/daemon';\nimport type { InspectorServer } from 'edgenet/inspector';\n" : ''}
const lines${ts ? ': string[]' : ''} = [];
// any pino-compatible logger will do: here a hand-written one
const log = (level${ts ? ': string' : ''}) => (a${ts ? ': object | string' : ''}, b${ts ? '?: string' : ''}) => void lines.push(level + ' ' + (typeof a === 'string' ? a : (b ?? '')));
const logger${ts ? ': EdgenetLogger' : ''} = { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), child: () => logger };
${ts ? "const daemonOptions: DaemonOptions = { stateDir: '/tmp/never', watch: false };\nconst inspector: InspectorServer | undefined = undefined;\nvoid daemonOptions;\nvoid inspector;\n" : ''}
const drivers = createFakeDrivers();
drivers.links.addExternal('eth1');
drivers.links.addNetns('/run/netns/web');
const net = createEdgenet({ stateDir: process.argv[2]${ts ? ' ?? "."' : ''}, drivers, logger, auditIntervalMs: 0 });
const config${ts ? ': ConfigInput' : ''} = ${JSON.stringify(CONFIG)};
const result = await net.apply(config);
const status${ts ? ': Status' : ''} = net.status();
console.log(JSON.stringify({ created: result.created, networks: status.networks.map((n) => [n.name, n.state]), ip: status.endpoints[0]?.ip, logged: lines.length > 0 }));
await net.stop();
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
  },
  include: ['index.ts'],
};

describe('the packed package in a consumer project', () => {
  let dir: string;
  let tarball: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgenet-pack-'));
    const out = await must('npm', ['pack', '--json', '--pack-destination', dir], { timeoutMs: NPM_TIMEOUT_MS });
    const [packed] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    if (!packed) throw new Error(`npm pack printed no package: ${out}`);
    tarball = join(dir, packed.filename);
  }, NPM_TIMEOUT_MS);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function consumer(name: string, devDependencies: Record<string, string> = {}): Promise<string> {
    const root = join(dir, name);
    await mkdir(root);
    await writeFile(join(root, 'package.json'), JSON.stringify({ name, private: true, type: 'module', dependencies: { edgenet: `file:${tarball}` }, devDependencies }, null, 2));
    await must('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { timeoutMs: NPM_TIMEOUT_MS, cwd: root });
    // no tsx (nor its esbuild) anywhere in the consumer's tree
    const tree = await must('npm', ['ls', '--all', '--parseable'], { cwd: root, timeoutMs: 60_000 }).catch((e: unknown) => String(e));
    expect(tree.split('\n').filter((p) => /\/node_modules\/(tsx|esbuild|@esbuild\/[^/]+)$/.test(p))).toEqual([]);
    expect(existsSync(join(root, 'node_modules/tsx'))).toBe(false);
    return root;
  }

  /** Runs `file` in `root` with the loads recorder; returns its stdout and every module it loaded. */
  async function runRecorded(root: string, file: string): Promise<{ stdout: string; loads: string[] }> {
    for (const f of ['record-loads.mjs', 'record-loads-hooks.mjs']) await copyFile(join(REPO, 'test/fixtures/loads', f), join(root, f));
    const loadsFile = join(root, 'loads.txt');
    const state = join(root, 'state');
    const r = await run(process.execPath, ['--import', './record-loads.mjs', file, state], { cwd: root, env: { ...process.env, EDGENET_RECORD_LOADS: loadsFile } });
    expect(r.code, r.stderr).toBe(0);
    return { stdout: r.stdout, loads: (await readFile(loadsFile, 'utf8')).split('\n').filter(Boolean) };
  }

  function expectApplied(stdout: string): void {
    expect(JSON.parse(stdout.trim()) as unknown).toEqual({
      created: expect.arrayContaining(['network lan', 'endpoint web/lan', 'port uplink']),
      networks: [['lan', 'ready']],
      ip: expect.stringMatching(/^10\.50\.0\./),
      logged: true,
    });
  }

  function expectCoreOnly(loads: string[]): void {
    expect(loads.some((l) => l.includes('/node_modules/edgenet/dist/src/index.js'))).toBe(true);
    for (const name of CORE_MUST_NOT_LOAD) expect(loads.filter((l) => l.includes(`/node_modules/${name}/`)), name).toEqual([]);
    // the live view (src/ui/) is the daemon's: importing the core never loads it
    expect(loads.filter((l) => l.includes('/node_modules/edgenet/dist/src/ui/'))).toEqual([]);
    expect(loads.filter((l) => /\.ts$/.test(l) || l.includes('/tsx/'))).toEqual([]);
  }

  it('holds only what users need', async () => {
    const list = (await must('tar', ['-tzf', tarball])).split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
    expect(list).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/edgenet.js', 'systemd/edgenet.service', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/src/testing.js', 'dist/src/daemon-entry.js', 'dist/src/inspector.js', 'dist/src/cli/main.js', 'dist/src/cli/main.bundle.js']));
    const unwanted = list.filter((p) => /^(test|bench|scripts|src|machines|diagrams|docs|\.ci)\//.test(p) || /\.tsbuildinfo$|\.fingerprint$|\.lock$|^bin\/run-ts\.js$|^tsconfig/.test(p));
    expect(unwanted).toEqual([]);
    // no `.ts` import paths in the declarations
    const { stdout } = await run('tar', ['-xzOf', tarball, '--wildcards', 'package/dist/*.d.ts']);
    expect(stdout.match(/from '\.{1,2}\/[^']*\.ts'/g) ?? []).toEqual([]);
  });

  // the plain-JS consumer, installed once for the tests that use it
  let jsAgent: Promise<string> | undefined;
  const jsConsumer = (): Promise<string> => (jsAgent ??= consumer('js-agent'));

  it('works in a plain-JS ESM project: apply on the fakes and a status; the core loads no fastify, commander or inspector; the edgenet command runs', async () => {
    const root = await jsConsumer();
    await writeFile(join(root, 'agent.mjs'), program(false));
    const { stdout, loads } = await runRecorded(root, 'agent.mjs');
    expectApplied(stdout);
    expectCoreOnly(loads);
    const help = await run(join(root, 'node_modules/.bin/edgenet'), ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: edgenet');
    const version = await run(join(root, 'node_modules/.bin/edgenet'), ['version', '--socket', join(root, 'none.sock')]);
    expect(version.stdout).toMatch(/^edgenet \d+\.\d+\.\d+\ndaemon not running\n$/);
  }, NPM_TIMEOUT_MS);

  it('compiles in a strict TypeScript project (NodeNext, exactOptionalPropertyTypes, no skipLibCheck) and runs the same', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const root = await consumer('ts-agent', { typescript: pkg.devDependencies.typescript ?? 'latest', '@types/node': pkg.devDependencies['@types/node'] ?? 'latest' });
    await writeFile(join(root, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    await writeFile(join(root, 'index.ts'), program(true));
    const tsc = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { cwd: root, timeoutMs: NPM_TIMEOUT_MS });
    const errors = (tsc.stdout + tsc.stderr).split('\n').filter((l) => /error TS\d+/.test(l));
    // errors inside third-party declarations (e.g. xstate's own under exactOptionalPropertyTypes) are listed, not counted
    const thirdParty = errors.filter((l) => /node_modules\//.test(l) && !/node_modules\/edgenet\//.test(l));
    if (thirdParty.length) console.log(`third-party declaration errors (not counted):\n${thirdParty.join('\n')}`);
    const ours = errors.filter((l) => !thirdParty.includes(l));
    expect(ours, 'errors in edgenet declarations or the consumer code').toEqual([]);
    expect(await readdir(join(root, 'out'))).toContain('index.js');
    const { stdout, loads } = await runRecorded(root, 'out/index.js');
    expectApplied(stdout);
    expectCoreOnly(loads);
  }, NPM_TIMEOUT_MS);

  it('ships the patched netlink addon: the installed package runs the real link driver in a namespace; the registry prebuild alone is refused', async (ctx) => {
    const list = (await must('tar', ['-tzf', tarball])).split('\n');
    expect(list).toContain(`package/native/netlink/prebuilds/${process.platform}-${process.arch}/node.napi.glibc.node`);
    expect(list).toEqual(expect.arrayContaining(['package/native/netlink/LICENSE', 'package/native/netlink/README']));
    if (!kernelAvailable) {
      if (kernelRequired) throw new Error('the real link driver needs root and network namespaces (EDGENET_REQUIRE_KERNEL=1)');
      ctx.skip();
    }
    const root = await jsConsumer();
    // the consumer's netlink is the registry's: prebuilds only, nothing compiled
    expect(existsSync(join(root, 'node_modules/netlink/build'))).toBe(false);
    await writeFile(
      join(root, 'real.mjs'),
      `import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { createEdgenet } from 'edgenet';
const require = createRequire(import.meta.url);
const netlinkDir = dirname(require.resolve('netlink/package.json'));
const gyp = createRequire(netlinkDir + '/package.json')('node-gyp-build');
const addon = gyp.resolve(netlinkDir);
const net = createEdgenet({ stateDir: process.argv[2] });
try {
  const result = await net.apply({ networks: [{ name: 'sw', type: 'switch' }] });
  const status = net.status();
  console.log(JSON.stringify({ addon, patched: gyp(netlinkDir).edgenetPatch === 1, created: result.created, networks: status.networks.map((n) => [n.name, n.state, n.bridge]) }));
} finally {
  await net.stop();
}
`,
    );
    const ns = await Netns.create(uniqueTag(), 'pkg');
    try {
      const state = join(root, 'real-state');
      const r = await run('ip', ['netns', 'exec', ns.name, process.execPath, 'real.mjs', state], { cwd: root, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim()) as { addon: string; patched: boolean; created: string[]; networks: string[][] };
      console.log(`installed package, real link driver: ${JSON.stringify(out)}`);
      expect(out.addon).toBe(join(root, `node_modules/edgenet/native/netlink/prebuilds/${process.platform}-${process.arch}/node.napi.glibc.node`));
      expect(out.patched).toBe(true);
      expect(out.networks).toEqual([['sw', 'ready', 'enbr-sw']]);
      // the bridge is in the kernel, with edgenet's mark (and this instance's id)
      const link = JSON.parse(await ns.ip('-j', '-d', 'link', 'show', 'enbr-sw')) as { ifalias?: string; linkinfo?: { info_kind?: string } }[];
      expect(link[0]?.linkinfo?.info_kind).toBe('bridge');
      expect(link[0]?.ifalias).toMatch(/^edgenet:[0-9a-f]{8}:ni:sw$/);
      // pointed at the registry's build (what the consumer's node_modules holds), the driver refuses to start
      const unpatched = await run('ip', ['netns', 'exec', ns.name, process.execPath, 'real.mjs', join(root, 'real-state-2')], {
        cwd: root,
        timeoutMs: 60_000,
        env: { ...process.env, NETLINK_PREBUILD: join(root, 'node_modules/netlink') },
      });
      expect(unpatched.code).not.toBe(0);
      expect(unpatched.stderr).toContain('is the unpatched build');
    } finally {
      await ns.remove();
    }
  }, NPM_TIMEOUT_MS);
});
