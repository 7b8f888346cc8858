// Client of bench/kernel-hand.ts: a resident netlink process inside one namespace.
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Sandbox } from './sandbox.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface HandTiming {
  /** wall-clock ms just before the kernel request */
  t0: number;
  /** wall-clock ms after the kernel acknowledged it */
  t1: number;
  /** 'seen': the watched link's events since the last 'seen' (wall-clock ms when read, and the carrier they told) */
  seen?: { t: number; carrier: boolean }[];
}

type Op = { op: 'down' | 'up' | 'del' | 'watch' | 'seen'; ifname: string } | { op: 'veth'; ifname: string; peer: string; peerNetns: string };

export class KernelHand {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (t: HandTiming) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {}

  static async start(sandbox: Sandbox, ns: string): Promise<KernelHand> {
    const child = sandbox.spawnIn(ns, [process.execPath, join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/kernel-hand.ts')], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const hand = new KernelHand(child);
    const ready = new Promise<void>((res, rej) => {
      hand.waiting.set(0, { resolve: () => res(), reject: rej });
      child.once('exit', (code) => rej(new Error(`kernel hand in ${ns} exited ${code}`)));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; ok: boolean; t0: number; t1: number; seen?: HandTiming['seen']; error?: string };
      const w = hand.waiting.get(msg.id);
      if (!w) return;
      hand.waiting.delete(msg.id);
      if (msg.ok) w.resolve({ t0: msg.t0, t1: msg.t1, ...(msg.seen && { seen: msg.seen }) });
      else w.reject(new Error(msg.error));
    });
    await ready;
    return hand;
  }

  /** Sends one request; rejects when the hand has not answered within `timeoutMs` (it names the request). */
  do(op: Op, timeoutMs = 5000): Promise<HandTiming> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`kernel hand: no answer to ${op.op} ${op.ifname} (request ${id}) after ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = { resolve: (t: HandTiming) => (clearTimeout(timer), resolve(t)), reject: (e: Error) => (clearTimeout(timer), reject(e)) };
      this.waiting.set(id, settle);
      this.child.stdin!.write(`${JSON.stringify({ id, ...op })}\n`);
    });
  }

  close(): void {
    this.child.stdin?.end();
  }
}
