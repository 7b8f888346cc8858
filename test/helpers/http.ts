// HTTP as apps and outside hosts see it in the kernel tests: busybox httpd serving "hello", curl fetching it.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Netns } from './netns.ts';

/** document roots of serveHello, removed when the test file ends */
const roots: string[] = [];
afterAll(() => {
  for (const d of roots.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An HTTP GET from `ns` to host:port answers "hello" (curl, 2 s). */
export async function connects(ns: Netns, host: string, port: number): Promise<boolean> {
  const r = await ns.exec('curl', ['-s', '--max-time', '2', `http://${host}:${port}/`], { timeoutMs: 5000 });
  return r.code === 0 && r.stdout.includes('hello');
}

/** busybox httpd in `ns` on addr:port serving "hello"; the caller kills the process. */
export async function serveHello(ns: Netns, addr: string, port: number): Promise<ChildProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'edgenet-www-'));
  roots.push(dir);
  await writeFile(join(dir, 'index.html'), 'hello\n');
  return spawn('ip', ['netns', 'exec', ns.name, 'busybox', 'httpd', '-f', '-p', `${addr}:${port}`, '-h', dir], { stdio: 'ignore' });
}
