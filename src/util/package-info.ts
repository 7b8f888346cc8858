// Where edgenet's package is and which version it is, the same from the sources (src/…) and from the build
// (dist/src/…): the nearest package.json above this module that is edgenet's.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'edgenet') return dir;
      } catch {
        /* not ours: keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

let root: string | undefined | null = null;

/** The package's directory (holds package.json, bin/, dist/, systemd/); undefined if it cannot be found. */
export function packageRoot(): string | undefined {
  if (root === null) root = findRoot();
  return root;
}

/** edgenet's version from its package.json (`unknown` when unreadable). */
export function packageVersion(): string {
  const dir = packageRoot();
  if (dir === undefined) return 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
