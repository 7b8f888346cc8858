#!/usr/bin/env node
// `npm run build`: compiles src/ and machines/ to dist/ (.js, .d.ts, source maps) with tsc -p tsconfig.build.json.
//   node scripts/build.mjs             build (incremental), fail on type errors
//   node scripts/build.mjs --if-stale  build only when the sources changed since the last build (setup.sh, the
//                                      vitest global setup): a content fingerprint of the inputs, kept in
//                                      dist/.fingerprint; nothing to do costs a few ms
// Builds of one checkout are serialized with flock(1) on dist/.lock (two test runs at once build once). After tsc:
// relative `.ts` import paths left in the emitted .d.ts are rewritten to `.js` (tsc rewrites them only in the
// .js), and outputs whose source is gone are removed. Last, the CLI's start-up path is bundled (see bundleCli).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const FINGERPRINT = join(DIST, '.fingerprint');
const SOURCE_DIRS = ['src', 'machines'];
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs'];
const OUTPUT_SUFFIXES = ['.d.ts.map', '.d.ts', '.js.map', '.js'];
// made by bundleCli, not by tsc from a source of the same name
const CLI_ENTRY = join(DIST, 'src/cli/main.js');
const CLI_BUNDLE = join(DIST, 'src/cli/main.bundle.js');
const BUNDLES = new Set([relative(DIST, CLI_BUNDLE), `${relative(DIST, CLI_BUNDLE)}.map`]);

const args = new Set(process.argv.slice(2));
const ifStale = args.has('--if-stale');
const quiet = args.has('--quiet');

function walk(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Content hash of everything the build reads (sources, configs, this script, the compiler's version). */
function fingerprint() {
  const hash = createHash('sha256');
  const files = [...SOURCE_DIRS.flatMap((d) => walk(join(ROOT, d)).filter((f) => f.endsWith('.ts'))), ...INPUT_FILES.map((f) => join(ROOT, f))].sort();
  for (const f of files) {
    hash.update(relative(ROOT, f));
    hash.update('\0');
    try {
      hash.update(readFileSync(f));
    } catch {
      hash.update('(missing)');
    }
    hash.update('\0');
  }
  try {
    hash.update(JSON.parse(readFileSync(join(ROOT, 'node_modules/typescript/package.json'), 'utf8')).version);
  } catch {
    /* no compiler: the build says so */
  }
  return hash.digest('hex');
}

function isFresh(fp) {
  try {
    return readFileSync(FINGERPRINT, 'utf8').trim() === fp;
  } catch {
    return false;
  }
}

/** `from './x.ts'`, `import('./x.ts')` and `declare module './x.ts'` → `.js`, for relative paths only. */
function rewriteDeclarations() {
  let changed = 0;
  for (const f of walk(DIST).filter((p) => p.endsWith('.d.ts'))) {
    const text = readFileSync(f, 'utf8');
    const next = text.replace(/((?:from|import\(|module)\s*['"])(\.\.?\/[^'"]*?)\.(m|c)?ts(['"])/g, (_m, pre, path, mc, quote) => `${pre}${path}.${mc ?? ''}js${quote}`);
    if (next !== text) {
      writeFileSync(f, next);
      changed++;
    }
  }
  return changed;
}

/** Outputs (x.js, x.d.ts, maps) whose x.ts no longer exists: a renamed or deleted module must not linger. */
function pruneOrphans() {
  const removed = [];
  for (const f of walk(DIST)) {
    const rel = relative(DIST, f);
    if (rel.startsWith('.') || BUNDLES.has(rel)) continue;
    const suffix = OUTPUT_SUFFIXES.find((s) => rel.endsWith(s));
    if (!suffix) continue;
    if (!existsSync(join(ROOT, `${rel.slice(0, -suffix.length)}.ts`))) {
      rmSync(f);
      removed.push(rel);
    }
  }
  return removed;
}

function tscPath() {
  const require = createRequire(join(ROOT, 'package.json'));
  try {
    return require.resolve('typescript/bin/tsc');
  } catch {
    console.error('build: typescript is not installed (run `bash scripts/setup.sh`, or `npm ci`)');
    process.exit(1);
  }
}

/**
 * `edgenet --help` and `edgenet status` load one file: the CLI's static import graph (commander, the API client's
 * callers, output formatting) bundled by esbuild into dist/src/cli/main.bundle.js, next to main.js so the relative
 * paths of what it loads lazily (the daemon, the EVE loader, the demo) stay what they are. Those lazily loaded
 * modules stay modules of their own, and so does every module that declares a class: an error class must be one
 * class for the bundle and for the lazily loaded daemon code that throws it (`instanceof`). Loading ~20 modules
 * through Node's ESM loader cost ~20–25 ms of a ~80 ms `--help` on this VM.
 */
async function bundleCli() {
  const require = createRequire(join(ROOT, 'package.json'));
  let esbuild;
  try {
    esbuild = await import(require.resolve('esbuild'));
  } catch {
    console.error('build: esbuild is not installed (run `bash scripts/setup.sh`, or `npm ci`)');
    return 1;
  }
  const outDir = dirname(CLI_BUNDLE);
  const asExternal = (abs) => {
    let p = relative(outDir, abs);
    if (!p.startsWith('.')) p = `./${p}`;
    return { path: p, external: true };
  };
  const keepModules = {
    name: 'keep-modules',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => {
        if (a.kind === 'entry-point') return undefined;
        const relativePath = a.path.startsWith('.');
        if (a.kind === 'dynamic-import') return relativePath ? asExternal(join(a.resolveDir, a.path)) : { path: a.path, external: true };
        if (!relativePath) return undefined;
        const abs = join(a.resolveDir, a.path);
        // a package's own files (commander's) are bundled whatever they hold
        if (!abs.startsWith(`${DIST}/`)) return undefined;
        return /^\s*export\s+(abstract\s+)?class\s/m.test(readFileSync(abs, 'utf8')) ? asExternal(abs) : undefined;
      });
    },
  };
  try {
    await esbuild.build({
      entryPoints: [CLI_ENTRY],
      outfile: CLI_BUNDLE,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      logLevel: 'warning',
      // commander is CommonJS: its require() of Node's modules needs a require in the ES module
      banner: { js: "import { createRequire as __edgenetCreateRequire } from 'node:module';\nconst require = __edgenetCreateRequire(import.meta.url);" },
      plugins: [keepModules],
    });
  } catch (err) {
    console.error(`build: bundling the CLI failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  return 0;
}

async function build() {
  const fp = fingerprint();
  if (ifStale && isFresh(fp)) return 0;
  const t0 = Date.now();
  if (!quiet) console.error('build: compiling src/ and machines/ to dist/');
  mkdirSync(DIST, { recursive: true });
  const r = spawnSync(process.execPath, [tscPath(), '-p', join(ROOT, 'tsconfig.build.json'), '--incremental', '--tsBuildInfoFile', join(DIST, '.tsbuildinfo')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  rewriteDeclarations();
  const removed = pruneOrphans();
  if (removed.length && !quiet) console.error(`build: removed ${removed.length} outputs of deleted sources`);
  if (r.status !== 0) {
    // tsc emits in spite of type errors: dist/ is current, but the fingerprint is not written, so the next run
    // compiles (and reports) again
    rmSync(FINGERPRINT, { force: true });
    console.error(`build: tsc reported errors (exit ${r.status ?? r.signal}); dist/ holds what it emitted`);
    return 1;
  }
  if ((await bundleCli()) !== 0) {
    rmSync(FINGERPRINT, { force: true });
    return 1;
  }
  writeFileSync(FINGERPRINT, `${fp}\n`);
  if (!quiet) console.error(`build: done in ${Date.now() - t0} ms`);
  return 0;
}

if (ifStale && !args.has('--locked') && isFresh(fingerprint())) {
  // fresh: nothing to do, no lock needed
} else if (args.has('--locked')) {
  process.exitCode = await build();
} else {
  // serialize with other builds of this checkout; the fingerprint is checked again once the lock is held
  mkdirSync(DIST, { recursive: true });
  const lock = join(DIST, '.lock');
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync('flock', [lock, process.execPath, self, '--locked', ...args], { stdio: 'inherit' });
  if (r.error) {
    // no flock(1): build unserialized
    process.exitCode = await build();
  } else process.exitCode = r.status ?? 1;
}
