import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { EdgenetLogger as Logger } from '../util/logger.ts';

// App namespaces come and go with their containers: watch the directories that hold them (e.g. /run/netns) and
// tell the endpoint that waits for a path when it appears or disappears. No polling.

export type NetnsChange = { type: 'added' | 'removed'; path: string };

export class NetnsWatcher {
  private watcher: FSWatcher | undefined;
  /** watched directory → how many of the paths are in it */
  private dirs = new Map<string, number>();

  constructor(
    private readonly onChange: (change: NetnsChange) => void,
    private readonly logger?: Logger,
  ) {}

  /** Watch the directories of these namespace paths (pids are not watched: their veth dies with the process). */
  watchPaths(paths: Iterable<string>): void {
    this.watchDirs(counted(new Map(), paths, 1));
  }

  /** watchPaths() of the paths before, without `removed` (one each) and with `added`: costs what changed. */
  changePaths(removed: Iterable<string>, added: Iterable<string>): void {
    this.watchDirs(counted(counted(new Map(this.dirs), removed, -1), added, 1));
  }

  /** The directories watched now. */
  watched(): string[] {
    return [...this.dirs.keys()].sort();
  }

  private watchDirs(dirs: Map<string, number>): void {
    const added = [...dirs.keys()].filter((d) => !this.dirs.has(d));
    const removed = [...this.dirs.keys()].filter((d) => !dirs.has(d));
    this.dirs = dirs;
    if (!this.watcher && added.length > 0) {
      // atomic: false — a namespace deleted and made again at once must read as removed + added, not "changed"
      this.watcher = watch(added, { ignoreInitial: true, depth: 0, persistent: false, atomic: false });
      this.watcher.on('add', (path) => this.onChange({ type: 'added', path }));
      this.watcher.on('change', (path) => this.onChange({ type: 'added', path }));
      this.watcher.on('unlink', (path) => this.onChange({ type: 'removed', path }));
      this.watcher.on('error', (err) => this.logger?.warn({ err }, 'netns watch error'));
      return;
    }
    if (added.length > 0) this.watcher?.add(added);
    if (removed.length > 0) this.watcher?.unwatch(removed);
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

/** `counts` with each path's directory counted `d` more times (none left: not in it). */
function counted(counts: Map<string, number>, paths: Iterable<string>, d: number): Map<string, number> {
  for (const p of paths) {
    const dir = dirname(p);
    const n = (counts.get(dir) ?? 0) + d;
    if (n > 0) counts.set(dir, n);
    else counts.delete(dir);
  }
  return counts;
}
