// The anti-spoofing transaction of one app against the number of apps already there, through libnftables (as the
// daemon runs it), in a namespace of its own: +1 app's elements and −1 app's, p50/p90 of 30 each, per size.
// `node bin/run-ts.js bench/anti-spoof-nft.ts` (sizes: BENCH_SIZES=1000,5000).
import { join } from 'node:path';
import { aclPlumbing, spoofElementCommands, spoofElements } from '../src/drivers/firewall-acl.ts';
import { createNftRunner } from '../src/drivers/nft-runner.ts';
import { Sandbox } from './sandbox.ts';
import { percentile } from './stats.ts';

const CHILD = 'EDGENET_BENCH_ANTISPOOF_CHILD';
const octet = (n: number): string => (n & 255).toString(16).padStart(2, '0');
const app = (i: number) => ({ key: `app${i}/lan`, hostIfname: `tap${i}`, mac: `02:00:00:${octet(i >> 16)}:${octet(i >> 8)}:${octet(i)}`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, exempt: [] as string[] });
const pct = (xs: number[], p: number): string => percentile(xs, p).toFixed(2);

async function child(sizes: number[]): Promise<void> {
  const nft = createNftRunner();
  const must = async (cmds: ReturnType<typeof aclPlumbing>): Promise<number> => {
    const t0 = performance.now();
    const r = await nft.run(['-j', '-f', '-'], JSON.stringify({ nftables: cmds }));
    if (r.code !== 0) throw new Error(r.stderr);
    return performance.now() - t0;
  };
  for (const n of sizes) {
    await must(aclPlumbing(true));
    const all = Array.from({ length: n }, (_, i) => spoofElements(app(i), 'bench')).flat();
    await must(spoofElementCommands('add', all));
    const add: number[] = [];
    const del: number[] = [];
    for (let k = 0; k < 30; k++) add.push(await must(spoofElementCommands('add', spoofElements(app(n + k), 'bench'))));
    for (let k = 0; k < 30; k++) del.push(await must(spoofElementCommands('delete', spoofElements(app(n + k), 'bench'))));
    console.log(`${n} apps (${nft.mode()}): +1 app p50 ${pct(add, 50)} / p90 ${pct(add, 90)} ms; -1 app p50 ${pct(del, 50)} / p90 ${pct(del, 90)} ms`);
    await must([{ delete: { table: { family: 'bridge', name: 'edgenet' } } }, { delete: { table: { family: 'inet', name: 'edgenet' } } }]);
  }
}

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '1000,5000').split(',').map(Number);
  if (process.env[CHILD]) return child(sizes);
  const sandbox = new Sandbox();
  try {
    const ns = await sandbox.netns('antispoof');
    const proc = sandbox.spawnIn(ns, [process.execPath, join(import.meta.dirname, '../bin/run-ts.js'), import.meta.filename], { stdio: 'inherit', env: { ...process.env, [CHILD]: '1' } });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    if (code !== 0) throw new Error(`the measurement exited ${String(code)}`);
  } finally {
    await sandbox.cleanup();
  }
}

await main();
