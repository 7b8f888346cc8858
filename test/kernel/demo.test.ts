// `edgenet demo` end to end: run as a user would, it passes every check, shows both NIs and leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeKernel } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const NETNS_DIR = '/run/netns';
const ROLES = ['dev', 'field', 'app1', 'app2', 'internet', 'web', 'db'];

/** Pids of the processes whose network namespace is one of `inodes` (as `/proc/<pid>/ns/net` shows it). */
function processesIn(inodes: ReadonlySet<number>): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ino = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/ns/net`))?.[1];
      if (ino && inodes.has(Number(ino))) found.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return found;
}

describeKernel('edgenet demo (kernel)', () => {
  let demo: ChildProcess | undefined;

  afterEach(async () => {
    // a demo still running (the test timed out): Ctrl-C makes it clean up after itself
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      const ended = new Promise((r) => demo?.once('exit', r));
      demo.kill('SIGINT');
      await ended;
    }
    demo = undefined;
  });

  it('passes every check, prints the status table with both NIs, and leaves no namespace, process or temp dir', async () => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(REPO, 'bin/edgenet.js'), 'demo'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    demo = child;
    const prefix = `endemo-${child.pid}-`;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));

    // the run's namespaces and their inodes, noted while they exist, so processes left in them can be found later
    const seen = new Map<string, number>();
    const note = (): void => {
      if (!existsSync(NETNS_DIR)) return;
      for (const name of readdirSync(NETNS_DIR)) {
        if (!name.startsWith(prefix) || seen.has(name)) continue;
        try {
          seen.set(name, statSync(join(NETNS_DIR, name)).ino);
        } catch {
          /* removed while we looked */
        }
      }
    };
    const watch = setInterval(note, 20);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearInterval(watch);
    const output = `${stdout}\n--- stderr ---\n${stderr}`;

    expect(code, output).toBe(0);
    expect(stdout).toMatch(/NETWORKS\n\s+NAME\s+TYPE\s+STATE.*\n\s+lan\s+local\s+ready\s+\S+\s+10\.50\.0\.0\/24\s+10\.50\.0\.1\s+uplink\n\s+plant\s+switch\s+ready/);
    expect(stdout).toMatch(/ENDPOINTS\n(?:.*\n)*?\s+web\s+lan\s+veth\s+ready\s.*10\.50\.0\.10/);
    expect(stdout).toMatch(/^demo: 12\/12 checks passed in [\d.]+ s$/m);
    expect(stdout).not.toMatch(/^\s+FAIL\s/m);
    expect(Date.now() - started, 'the demo should stay short').toBeLessThan(30_000);

    // nothing left: the namespaces (seen while it ran), processes inside them, the run's temp dir
    expect([...seen.keys()].sort()).toEqual(ROLES.map((r) => `${prefix}${r}`).sort());
    expect(existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix)) : []).toEqual([]);
    expect(processesIn(new Set(seen.values()))).toEqual([]);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(prefix))).toEqual([]);
  }, 60_000);
});
