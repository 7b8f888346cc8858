import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { EdgenetLogger as Logger } from '../util/logger.ts';

// App namespaces come and go with their containers: watch the directories that hold them (e.g. /run/netns) and
// tell the endpoint that waits for a path when it appears or disappears. No polling.

export type NetnsChange = { type: 'added' | 'removed'; path: string };

export class NetnsWatcher {
  private watcher: FSWatcher | undefined;
  private dirs = new Set<string>();

  constructor(
    private readonly onChange: (change: NetnsChange) => void,
    private readonly logger?: Logger,
  ) {}

  /** Watch the directories of these namespace paths (pids are not watched: their veth dies with the process). */
  watchPaths(paths: Iterable<string>): void {
    const dirs = new Set([...paths].map((p) => dirname(p)));
    const added = [...dirs].filter((d) => !this.dirs.has(d));
    const removed = [...this.dirs].filter((d) => !dirs.has(d));
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
