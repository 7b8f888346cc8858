// A fake Edgenet for API and CLI tests: validates with the schema, remembers the running config, emits what it is told.
import { BehaviorSubject, Subject } from 'rxjs';
import { configSchema } from '../../src/config/config-schema.ts';
import type { Config } from '../../src/config/config-schema.ts';
import type { ApplyOptions, ApplyResult, Edgenet, Status, Transition } from '../../src/edgenet-types.ts';
import { noWrites, type WriteCounts } from '../../src/drivers/write-counter.ts';
import { ConfigError } from '../../src/errors.ts';

export const emptyStatus = (): Status => ({
  networks: [],
  endpoints: [],
  ports: [],
  writes: noWrites(),
});

export class FakeEdgenet implements Edgenet {
  running: Config | undefined;
  applied: unknown[] = [];
  /** applies in flight now, and the most ever seen at once */
  active = 0;
  maxActive = 0;
  delayMs = 0;
  stopped = false;
  readonly transitions = new Subject<Transition>();
  readonly statusSubject = new BehaviorSubject<Status>(emptyStatus());
  readonly transitions$ = this.transitions.asObservable();
  readonly status$ = this.statusSubject.asObservable();

  /** options of the last apply (EVE documents are applied partially) */
  lastApplyOptions: ApplyOptions | undefined;

  async apply(config: unknown, opts?: ApplyOptions): Promise<ApplyResult> {
    this.lastApplyOptions = opts;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const parsed = configSchema.safeParse(config);
      if (!parsed.success) {
        throw new ConfigError(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
      }
      const before = new Set((this.running?.networks ?? []).map((n) => n.name));
      const after = parsed.data.networks.map((n) => n.name);
      const result: ApplyResult = {
        // named as the real core names them: `network <name>`
        created: after.filter((n) => !before.has(n)).map((n) => `network ${n}`),
        updated: [],
        deleted: [...before].filter((n) => !after.includes(n)).map((n) => `network ${n}`),
        unchanged: after.filter((n) => before.has(n)).length,
      };
      this.running = parsed.data;
      this.applied.push(config);
      return result;
    } finally {
      this.active--;
    }
  }

  status(): Status {
    return this.statusSubject.value;
  }

  writes(): WriteCounts {
    return this.statusSubject.value.writes;
  }

  /** what /readyz reports as the actors' view; tests set it */
  settledNow = true;

  settled(): boolean {
    return this.settledNow;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  async teardown(): Promise<void> {
    this.running = undefined;
  }
}
