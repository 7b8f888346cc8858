// Runs once before any test file: brings dist/ up to date with the sources (scripts/build.mjs --if-stale), because
// many tests spawn bin/edgenet.js, which runs the compiled CLI — they must never run a stale build. Nothing to do
// costs a few ms; after a change, an incremental tsc build (seconds). Type errors are reported and fail the run.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export default function setup(): void {
  const repo = resolve(import.meta.dirname, '..');
  const r = spawnSync(process.execPath, [join(repo, 'scripts/build.mjs'), '--if-stale'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`building dist/ failed (exit ${r.status ?? r.signal}): see the compiler output above; tests would run a stale CLI`);
}
