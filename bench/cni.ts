// The +1 veth app side by side with what container runtimes call for the same job, on the same machine in the same
// run: the CNI bridge plugin (`containernetworking-plugins`: bridge + host-local IPAM, gateway and masquerade) and
// netavark (podman's: a bridge network, the address given by the caller as podman does). Each runs in a device
// namespace of its own (`enbench-<pid>-cni`, `-netavark`) so its bridges, veths and iptables rules never meet the
// daemon's; each app gets a fresh namespace. Timed from spawn to exit, as a runtime calls them. Neither serves DHCP
// or DNS (netavark's DNS would be aardvark-dns, not installed): they do less than edgenet's +1 app on a local NI.
// `npm run bench` installs both packages (scripts/setup.sh with EDGENET_SETUP_BENCH=1); absent, the bench says so.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median } from './stats.ts';
import type { Sandbox } from './sandbox.ts';

const CNI_PATH = '/usr/lib/cni';
const CNI_BRIDGE = join(CNI_PATH, 'bridge');
const NETAVARK = '/usr/lib/podman/netavark';

export interface RuntimeTiming {
  tool: 'CNI bridge plugin' | 'netavark';
  /** absent: not installed, with the package to install */
  missing?: string;
  medianMs?: number;
  ms: number[];
}

/** Spawns `argv` inside `ns` with `stdin` as its input; resolves with the wall time, rejects on a non-zero exit. */
function timedRun(ns: string, argv: string[], stdin: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, ...argv], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${argv[0]} exited ${code}: ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined); // an early exit is reported by its code, not by the write's EPIPE
    child.stdin.end(stdin);
  });
}

/** `runs` apps added one after another through the CNI bridge plugin (ADD), after one warm-up. */
export async function timeCniBridge(sandbox: Sandbox, runs: number): Promise<RuntimeTiming> {
  if (!existsSync(CNI_BRIDGE)) return { tool: 'CNI bridge plugin', missing: 'containernetworking-plugins', ms: [] };
  const dev = await sandbox.netns('cni');
  const dir = await sandbox.dir('cni');
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'enbench',
    type: 'bridge',
    bridge: 'cnibr0',
    isGateway: true,
    ipMasq: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.250.0.0/16' }]], dataDir: join(dir, 'ipam') },
  });
  const ms: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const app = await sandbox.netns(`cniapp${i}`);
    const env = { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `enbench${i}`, CNI_NETNS: `/run/netns/${app}`, CNI_IFNAME: 'eth0', CNI_PATH };
    const t = await timedRun(dev, [CNI_BRIDGE], conf, env);
    if (i > 0) ms.push(t);
  }
  return { tool: 'CNI bridge plugin', medianMs: median(ms), ms };
}

/** The same through `netavark setup` (a bridge network with NAT; podman passes the address it allocated). */
export async function timeNetavark(sandbox: Sandbox, runs: number): Promise<RuntimeTiming> {
  if (!existsSync(NETAVARK)) return { tool: 'netavark', missing: 'netavark', ms: [] };
  const dev = await sandbox.netns('netavark');
  const dir = await sandbox.dir('netavark');
  await mkdir(join(dir, 'config'), { recursive: true });
  const network = {
    name: 'enbench',
    id: 'e'.repeat(64),
    driver: 'bridge',
    network_interface: 'nvbr0',
    subnets: [{ subnet: '10.251.0.0/16', gateway: '10.251.0.1' }],
    ipv6_enabled: false,
    internal: false,
    dns_enabled: false,
    ipam_options: { driver: 'host-local' },
  };
  const ms: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const app = await sandbox.netns(`nvapp${i}`);
    const options = {
      container_id: `enbench${i}`,
      container_name: `enbench${i}`,
      networks: { enbench: { interface_name: 'eth0', static_ips: [`10.251.0.${10 + i}`] } },
      network_info: { enbench: network },
      port_mappings: [],
    };
    const file = join(dir, `options-${i}.json`);
    await writeFile(file, JSON.stringify(options));
    const t = await timedRun(dev, [NETAVARK, '--config', join(dir, 'config'), '--file', file, 'setup', `/run/netns/${app}`], '', { PATH: process.env.PATH });
    if (i > 0) ms.push(t);
  }
  return { tool: 'netavark', medianMs: median(ms), ms };
}

/** One line for the table: both medians, or what is missing. */
export function runtimesNote(timings: readonly RuntimeTiming[]): string {
  return timings.map((t) => (t.medianMs !== undefined ? `${t.tool} ${t.medianMs.toFixed(1)} ms` : `${t.tool}: not installed (${t.missing})`)).join('; ');
}
