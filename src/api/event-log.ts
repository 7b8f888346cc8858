// The transitions GET /v1/events streams: each with an SSE id (`<epoch>-<n>`, n counting from 1 in this process),
// the last `capacity` kept (a ring: no entry moves when the oldest goes) so a client that reconnects with
// `Last-Event-ID` gets what it missed.
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Transition } from '../edgenet-types.ts';

export interface LoggedTransition {
  id: string;
  transition: Transition;
}

export class TransitionLog {
  /** this process's prefix of every id: an id of another daemon run is never mistaken for one of this run */
  readonly epoch: string;
  /** the ring: entry n (counting from 1) at (n - 1) % capacity while kept */
  private readonly ring: LoggedTransition[] = [];
  private next = 1;
  private readonly live = new Subject<LoggedTransition>();
  private readonly sub: Subscription;

  constructor(source: Observable<Transition>, readonly capacity = 10_000, epoch = Date.now().toString(36)) {
    this.epoch = epoch;
    this.sub = source.subscribe({
      next: (transition) => {
        const n = this.next++;
        const entry = { id: `${this.epoch}-${n}`, transition };
        // (a splice of the oldest per transition moved every kept entry: 10 000 behind each transition of a big push)
        this.ring[(n - 1) % this.capacity] = entry;
        this.live.next(entry);
      },
      complete: () => this.live.complete(),
      error: (err: unknown) => this.live.error(err),
    });
  }

  /** Transitions as they happen, with their ids. */
  get live$(): Observable<LoggedTransition> {
    return this.live.asObservable();
  }

  /**
   * What came after `lastId`. `gap`: the id is not one of this run's kept ones (another daemon run, or older than
   * what is kept): everything kept is returned, and the client may have missed some before it.
   */
  since(lastId: string): { entries: LoggedTransition[]; gap: boolean } {
    const m = /^(.+)-(\d+)$/.exec(lastId);
    const n = Number(m?.[2]);
    const first = Math.max(1, this.next - this.capacity);
    if (m?.[1] !== this.epoch || !Number.isSafeInteger(n) || n >= this.next || n < first - 1) return { entries: this.from(first), gap: true };
    return { entries: this.from(n + 1), gap: false };
  }

  /** The kept entries from number `n` on, oldest first. */
  private from(n: number): LoggedTransition[] {
    const out: LoggedTransition[] = [];
    for (let k = n; k < this.next; k++) out.push(this.ring[(k - 1) % this.capacity] as LoggedTransition);
    return out;
  }

  close(): void {
    this.sub.unsubscribe();
    this.live.complete();
  }
}
