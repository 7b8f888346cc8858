// `time edgenet --help` and `time edgenet status` for the compiled CLI (bin/edgenet.js → dist/): wall time from
// spawn to exit, the median of several runs, as a user at a shell would see it.
//
// In the environment of a device: without NODE_EXTRA_CA_CERTS. This sandbox sets it, and Node then reads and parses
// the whole CA bundle at every start (~80 ms on this VM, more than Node's own start) although the CLI speaks no TLS;
// `asInherited` measures with the environment as it is, to show that cost.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BIN = join(REPO, 'bin/edgenet.js');

export interface CliTiming {
  /** the command as a user types it */
  command: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** The environment the CLI is timed in: this one without NODE_EXTRA_CA_CERTS (see above). */
export function deviceEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _ignored, ...env } = process.env;
  return env;
}

/** Set here: the figures are also measured with it (`asInherited`). */
export const extraCaCerts: string | undefined = process.env.NODE_EXTRA_CA_CERTS;

function once(args: string[], script: string[] = [BIN], env: NodeJS.ProcessEnv = deviceEnv()): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    execFile(process.execPath, [...script, ...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024, env }, (err) => {
      if (err) reject(new Error(`edgenet ${args.join(' ')}: ${err.message}`));
      else resolvePromise(performance.now() - t0);
    });
  });
}

/** Runs `edgenet <args>` `runs` times (after one warm-up run that fills the page cache). */
export async function timeCli(args: string[], runs = 10, opts: { asInherited?: boolean } = {}): Promise<CliTiming> {
  const env = opts.asInherited ? process.env : deviceEnv();
  await once(args, [BIN], env);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await once(args, [BIN], env));
  return { command: `edgenet ${args.join(' ')}`, medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms) };
}

/** `node -e 0` the same way: what Node itself costs to start on this machine, the floor under every CLI figure. */
export async function timeNodeStartup(runs = 10): Promise<CliTiming> {
  await once([], ['-e', '0']);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await once([], ['-e', '0']));
  return { command: 'node -e 0', medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms) };
}
