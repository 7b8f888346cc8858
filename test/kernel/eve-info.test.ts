// `edgenet status --format eve` on a running EVE config, on the real kernel: it parses against the eve-api schema;
// ipAssignments holds each app's MAC and leased address (on the switch NI too: learned from the app's own DHCP
// client talking to a server behind the port); the metrics' counters grow with traffic.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EveApplyExtras } from '../../src/eve/eve-types.ts';
import { run } from '../helpers/command.ts';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { eveInfoDocument, eveMetricsDocument } from '../helpers/eve-info-schema.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const LAN = 'c0ffee00-1001-4000-8000-00000000000a';
const SW = 'c0ffee00-1002-4000-8000-00000000000b';
const APP_A = '0a0a0a0a-3333-4000-8000-0000000000aa';
const APP_B = '0b0b0b0b-4444-4000-8000-0000000000bb';
const acls = [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }];

const doc = {
  deviceIoList: [
    { ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageMgmtAndApps' },
    { ptype: 'PhyIoNetEth', phylabel: 'eth2', logicallabel: 'eth2', phyaddrs: { Ifname: 'eth2' }, usage: 'PhyIoUsageShared' },
  ],
  systemAdapterList: [{ name: 'uplink', lowerLayerName: 'eth1', uplink: true }, { name: 'fieldbus', lowerLayerName: 'eth2' }],
  networkInstances: [
    { uuidandversion: { uuid: LAN, version: '1' }, displayname: 'lan', instType: 'ZnetInstLocal', activate: true, port: { name: 'uplink' }, ip: { subnet: '10.73.0.0/24', dhcpRange: { start: '10.73.0.100', end: '10.73.0.120' } } },
    { uuidandversion: { uuid: SW, version: '1' }, displayname: 'plant', instType: 'ZnetInstSwitch', activate: true, port: { name: 'fieldbus' } },
  ],
  apps: [
    { uuidandversion: { uuid: APP_A, version: '1' }, displayname: 'hmi', activate: true, interfaces: [{ name: 'eth0', networkId: LAN, acls }] },
    { uuidandversion: { uuid: APP_B, version: '1' }, displayname: 'plc', activate: true, interfaces: [{ name: 'eth0', networkId: SW, acls }] },
  ],
};

describeKernel('EVE info and metrics (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let udhcpd: ChildProcess | undefined;
  let tmp: string;
  let dev: Netns, vmA: Netns, vmB: Netns, field: Netns;

  beforeEach(async () => {
    ({ dev, vma: vmA, vmb: vmB, fld: field } = await t.namespaces(['dev', 'vma', 'vmb', 'out', 'fld'], { uplink: true }));
    // a DHCP server behind the switch NI's port
    await dev.ip('link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', field.name);
    await dev.ip('link', 'set', 'eth2', 'up');
    await field.ip('addr', 'add', '192.168.88.1/24', 'dev', 'eth0');
    await field.ip('link', 'set', 'eth0', 'up');
    tmp = await mkdtemp(join(tmpdir(), 'edgenet-udhcpd-'));
    const conf = join(tmp, 'udhcpd.conf');
    await writeFile(conf, `start 192.168.88.100\nend 192.168.88.150\ninterface eth0\nlease_file ${join(tmp, 'leases')}\noption subnet 255.255.255.0\n`);
    await writeFile(join(tmp, 'leases'), '');
    udhcpd = spawn('ip', ['netns', 'exec', field.name, 'busybox', 'udhcpd', '-f', conf], { stdio: 'ignore' });
  });

  afterEach(async () => {
    if (udhcpd?.pid !== undefined && udhcpd.exitCode === null) {
      const gone = new Promise((r) => udhcpd?.once('exit', r));
      udhcpd.kill('SIGTERM');
      await gone;
    }
    await rm(tmp, { recursive: true, force: true });
  });

  const cli = async (...args: string[]): Promise<unknown> => {
    const r = await run('nsenter', [`--net=${dev.path}`, process.execPath, join(REPO, 'bin/edgenet.js'), ...args, '--state-dir', daemon?.stateDir ?? ''], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as unknown;
  };

  it('prints ZInfoNetworkInstance per NI with each app MAC and address, and metrics that grow with traffic', async () => {
    daemon = await TestDaemon.start(dev, JSON.stringify(doc));
    const answer = (await daemon.api.putConfig(JSON.stringify(doc), 'application/json', { format: 'eve' })) as Awaited<ReturnType<typeof daemon.api.putConfig>> & EveApplyExtras;
    const plug = async (app: string, vm: Netns): Promise<{ ifname: string; mac: string }> => {
      const tap = answer.eve.taps.find((t) => t.app === app);
      if (!tap) throw new Error(`no tap for ${app}`);
      await dev.ip('link', 'add', tap.ifname, 'type', 'veth', 'peer', 'name', 'eth0', 'address', tap.mac, 'netns', vm.name);
      await vm.ip('link', 'set', 'eth0', 'up');
      return tap;
    };
    const a = await plug('hmi', vmA);
    const b = await plug('plc', vmB);
    await eventually('both attached', async () => (await daemon?.status())?.endpoints.every((e) => e.state === 'ready') === true);
    const leaseA = await dhcpLease(vmA);
    expect(leaseA.ip).toBe('10.73.0.100');
    // the switch NI's app gets its address from the server behind the port, not from edgenet
    const leaseB = await dhcpLease(vmB);
    expect(leaseB.ip).toMatch(/^192\.168\.88\.1[0-4]\d$/);

    const info = eveInfoDocument.parse(await cli('status', '--format', 'eve'));
    const lan = info.find((i) => i.networkID === LAN);
    const sw = info.find((i) => i.networkID === SW);
    expect(lan).toMatchObject({ displayname: 'lan', instType: 2, activated: true, ports: ['uplink'], bridgeIPAddr: '10.73.0.1', state: 2 });
    expect(lan?.ipAssignments).toContainEqual({ macAddress: a.mac, ipAddress: ['10.73.0.100'] });
    // the bridge's own address, as EVE lists it
    expect(lan?.ipAssignments).toContainEqual({ macAddress: expect.stringMatching(/^[0-9a-f:]{17}$/), ipAddress: ['10.73.0.1'] });
    expect(lan?.vifs).toEqual([{ vifName: a.ifname, macAddress: a.mac, appID: APP_A }]);
    expect(sw).toMatchObject({ instType: 1, activated: true, ports: ['fieldbus'], vifs: [{ vifName: b.ifname, macAddress: b.mac, appID: APP_B }] });
    expect(sw?.ipAssignments).toEqual([{ macAddress: b.mac, ipAddress: [leaseB.ip] }]);

    const before = eveMetricsDocument.parse(await cli('status', '--format', 'eve-metrics'));
    const vifOf = (doc: typeof before, id: string, vif: string) => doc.find((m) => m.networkID === id)?.network?.find((n) => n.localName === vif);
    expect(vifOf(before, LAN, a.ifname)).toBeDefined();
    expect(await vmA.ping('192.168.77.2', { count: 5 })).toBe(true);
    expect(await vmB.ping('192.168.88.1', { count: 5 })).toBe(true);
    const after = eveMetricsDocument.parse(await daemon.api.eveMetrics());
    for (const [id, vif] of [[LAN, a.ifname], [SW, b.ifname]] as const) {
      const x = vifOf(before, id, vif);
      const y = vifOf(after, id, vif);
      expect(BigInt(String(y?.rxPkts))).toBeGreaterThanOrEqual(BigInt(String(x?.rxPkts)) + 5n);
      expect(BigInt(String(y?.txBytes))).toBeGreaterThan(BigInt(String(x?.txBytes)));
      const tx = (d: typeof before) => BigInt(String(d.find((m) => m.networkID === id)?.networkStats?.rx?.totalBytes));
      expect(tx(after)).toBeGreaterThan(tx(before));
    }
  });
});
