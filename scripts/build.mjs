#!/usr/bin/env node
// `npm run build`: compiles src/ and machines/ to dist/ (.js, .d.ts, source maps) with tsc -p tsconfig.build.json.
//   node scripts/build.mjs             build (incremental), fail on type errors
//   node scripts/build.mjs --if-stale  build only when the sources changed since the last build (setup.sh, the
//                                      vitest global setup): a content fingerprint of the inputs, kept in
//                                      dist/.fingerprint; nothing to do costs a few ms
// Builds of one checkout are serialized with flock(1) on dist/.lock (two test runs at once build once). After tsc:
// relative `.ts` import paths left in the emitted .d.ts are rewritten to `.js` (tsc rewrites them only in the
// .js), and outputs whose source is gone are removed.
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
    if (rel.startsWith('.')) continue;
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

function build() {
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
  writeFileSync(FINGERPRINT, `${fp}\n`);
  if (!quiet) console.error(`build: done in ${Date.now() - t0} ms`);
  return 0;
}

if (ifStale && !args.has('--locked') && isFresh(fingerprint())) {
  // fresh: nothing to do, no lock needed
} else if (args.has('--locked')) {
  process.exitCode = build();
} else {
  // serialize with other builds of this checkout; the fingerprint is checked again once the lock is held
  mkdirSync(DIST, { recursive: true });
  const lock = join(DIST, '.lock');
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync('flock', [lock, process.execPath, self, '--locked', ...args], { stdio: 'inherit' });
  if (r.error) {
    // no flock(1): build unserialized
    process.exitCode = build();
  } else process.exitCode = r.status ?? 1;
}
