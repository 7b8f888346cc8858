// The transitions kept for GET /v1/events' Last-Event-ID: what came after an id, and a gap where it is not kept.
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TransitionLog } from '../../src/api/event-log.ts';
import type { Transition } from '../../src/edgenet-types.ts';

const t = (n: number): Transition => ({ kind: 'endpoint', name: `a${n}/lan`, from: 'pending', to: 'ready', at: new Date(0).toISOString() });

describe('TransitionLog', () => {
  it('keeps the last `capacity` entries; resumes after a kept id, reports a gap before them', () => {
    const source = new Subject<Transition>();
    const log = new TransitionLog(source, 8, 'e');
    for (let n = 1; n <= 100; n++) {
      source.next(t(n));
      const all = log.since('x-0').entries;
      expect(all.length).toBe(Math.min(n, 8));
      // contiguous, ending with the last one
      expect(all.map((e) => e.id)).toEqual(Array.from({ length: all.length }, (_, k) => `e-${n - all.length + 1 + k}`));
    }
    expect(log.since('e-97')).toEqual({ entries: [expect.objectContaining({ id: 'e-98' }), expect.objectContaining({ id: 'e-99' }), expect.objectContaining({ id: 'e-100' })], gap: false });
    expect(log.since('e-100')).toEqual({ entries: [], gap: false });
    expect(log.since('e-3').gap).toBe(true);
    expect(log.since('other-99').gap).toBe(true);
    log.close();
  });
});
