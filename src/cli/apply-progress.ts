// `edgenet apply` on a terminal: while the push settles, one status line on stderr counts the actors that have
// settled (ready, degraded, removed), from the daemon's event stream. It appears only once a push moves more than a
// few dozen actors (a small push returns before anyone could read it) and is erased before the summary is printed.
import type { ApiClient } from '../api/client.ts';
import type { Transition } from '../edgenet-types.ts';

/** Below this many settled actors, nothing is drawn. */
export const PROGRESS_THRESHOLD = 30;
const REDRAW_MS = 100;

export interface ProgressCounts {
  ready: number;
  degraded: number;
  removed: number;
}

export function progressLine(c: ProgressCounts): string {
  return `applying: ${c.ready + c.degraded + c.removed} settled (${c.ready} ready, ${c.degraded} degraded, ${c.removed} removed)`;
}

/** Resolves with `push`'s result; draws progress on `write` (a terminal) meanwhile. */
export async function withProgress<T>(api: Pick<ApiClient, 'events'>, push: Promise<T>, write: (text: string) => void): Promise<T> {
  const counts: ProgressCounts = { ready: 0, degraded: 0, removed: 0 };
  const stop = new AbortController();
  let drawn = false;
  let last = 0;
  const draw = (): void => {
    drawn = true;
    last = Date.now();
    write(`\r\x1b[K${progressLine(counts)}`);
  };
  const onTransition = (t: Transition): void => {
    if (t.kind === 'device') return;
    if (t.to === 'ready') counts.ready++;
    else if (t.to === 'degraded') counts.degraded++;
    else if (t.to === 'deleted') counts.removed++;
    else return;
    if (counts.ready + counts.degraded + counts.removed > PROGRESS_THRESHOLD && Date.now() - last >= REDRAW_MS) draw();
  };
  // progress is a nicety: a stream that cannot be opened changes nothing about the push
  const stream = api.events(onTransition, stop.signal, { filter: { to: ['ready', 'degraded', 'deleted'] } }).catch(() => undefined);
  try {
    return await push;
  } finally {
    stop.abort();
    await stream;
    if (drawn) write('\r\x1b[K');
  }
}
