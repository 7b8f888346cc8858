// Re-reads a profile dir kept by `npm run bench -- --profile` (its path is printed) and prints the per-phase
// summary again: `node bin/run-ts.js bench/profile-report.ts DIR [PHASE]`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatProfile, readProfiles, summarize, type PhaseWindow } from './profile.ts';

const [dir, only] = process.argv.slice(2);
if (!dir) {
  console.error('usage: profile-report.ts DIR [PHASE]');
  process.exit(1);
}
const windows = JSON.parse(await readFile(join(dir, 'windows.json'), 'utf8')) as PhaseWindow[];
const summary = summarize(await readProfiles(dir), only ? windows.filter((w) => w.phase.startsWith(only)) : windows, 25);
for (const p of summary) console.log(formatProfile(p));
