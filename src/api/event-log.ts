// The transitions GET /v1/events streams: each with an SSE id (`<epoch>-<n>`, n counting from 1 in this process),
// the last `capacity` (and up to a quarter more) kept so a client that reconnects with `Last-Event-ID` gets what it missed.
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Transition } from '../edgenet-types.ts';

export interface LoggedTransition {
  id: string;
  transition: Transition;
}

export class TransitionLog {
  /** this process's prefix of every id: an id of another daemon run is never mistaken for one of this run */
  readonly epoch: string;
  private readonly kept: LoggedTransition[] = [];
  private next = 1;
  private readonly live = new Subject<LoggedTransition>();
  private readonly sub: Subscription;

  constructor(source: Observable<Transition>, readonly capacity = 10_000, epoch = Date.now().toString(36)) {
    this.epoch = epoch;
    this.sub = source.subscribe({
      next: (transition) => {
        const entry = { id: `${this.epoch}-${this.next++}`, transition };
        this.kept.push(entry);
        // trimmed a quarter at a time: a splice per transition moved every kept entry (O(capacity) each, 10 000
        // entries behind every transition of a big push)
        if (this.kept.length >= this.capacity + Math.max(1, this.capacity >> 2)) this.kept.splice(0, this.kept.length - this.capacity);
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
    const first = this.next - this.kept.length;
    if (m?.[1] !== this.epoch || !Number.isSafeInteger(n) || n >= this.next || n < first - 1) return { entries: [...this.kept], gap: true };
    return { entries: this.kept.slice(n - first + 1), gap: false };
  }

  close(): void {
    this.sub.unsubscribe();
    this.live.complete();
  }
}
