// A `ping -D` running in a namespace for the whole of a test: every reply with the kernel's timestamp and sequence
// number, to tell how long an outage lasted (failover) or whether one happened at all (an address that must keep
// answering).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Netns } from './netns.ts';

export interface PingReply {
  at: number;
  seq: number;
}

export class RunningPing {
  readonly replies: PingReply[] = [];
  private readonly child: ChildProcess;
  private buf = '';

  /** `extra`: more ping flags (e.g. `-O -W 0.2` to report each unanswered request at once). */
  constructor(ns: Netns, target: string, extra: readonly string[] = []) {
    this.child = spawn('ip', ['netns', 'exec', ns.name, 'ping', '-n', '-D', ...extra, '-i', '0.05', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      const lines = this.buf.split('\n');
      this.buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/.exec(l);
        if (m) this.replies.push({ at: Number(m[1]) * 1000, seq: Number(m[2]) });
      }
    });
  }

  get count(): number {
    return this.replies.length;
  }

  /** Requests unanswered between the first and the last reply, and the longest time without a reply. */
  gaps(): { lost: number; longestMs: number; longestAt: number } {
    let lost = 0;
    let longestMs = 0;
    let longestAt = 0;
    for (let i = 1; i < this.replies.length; i++) {
      const a = this.replies[i - 1] as PingReply;
      const b = this.replies[i] as PingReply;
      lost += Math.max(0, b.seq - a.seq - 1);
      if (b.at - a.at > longestMs) {
        longestMs = b.at - a.at;
        longestAt = a.at;
      }
    }
    return { lost, longestMs, longestAt };
  }

  /**
   * When replies resumed after an outage that began after `ms`: the first reply after the first request left
   * unanswered (replies already on their way when the link went are not a resumption). Undefined: not yet.
   */
  resumedAfter(ms: number): number | undefined {
    const after = this.replies.filter((r) => r.at > ms);
    const first = after[0];
    if (!first) return undefined;
    const before = this.replies.filter((r) => r.at <= ms).at(-1);
    // the first missing sequence number after the cut
    let seq = (before?.seq ?? first.seq - 1) + 1;
    for (const r of after) {
      if (r.seq !== seq) break;
      seq++;
    }
    return after.find((r) => r.seq > seq)?.at;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGTERM');
  }
}
