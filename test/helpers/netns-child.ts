// Runs one TypeScript fixture of this repo in a network namespace (`nsenter --net`, the process's sockets then
// serve that namespace: Node cannot setns) and parses the one JSON document it prints.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');

export function runFixtureInNetns<T>(netnsPath: string, fixture: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return new Promise((done, fail) => {
    const child = spawn('nsenter', [`--net=${netnsPath}`, process.execPath, join(REPO, 'bin/run-ts.js'), join(REPO, fixture), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`${fixture} exited ${String(code)}: ${err}`));
      try {
        done(JSON.parse(out) as T);
      } catch (e) {
        fail(new Error(`${fixture} printed no JSON document (${String(e)}): ${out.slice(0, 500)} ${err}`));
      }
    });
  });
}
