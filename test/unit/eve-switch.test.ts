// EVE switch-NI L2 settings → edgenet's: accessVlanId, vlanAccessPorts, stp (written from eve-api netinst.proto,
// netconfig.proto, devmodel.proto); the converted document builds the same bridge VLAN entries as its native twin.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import { validateEveConfig } from '../../src/eve/eve-load.ts';
import { createFakeDrivers } from '../../src/testing.ts';

const NI = { plant: 'b1b2c3d4-0001-4000-8000-00000000000a', panel: 'b1b2c3d4-0002-4000-8000-00000000000b', lan: 'b1b2c3d4-0003-4000-8000-00000000000c' };
const app = (uuid: string, name: string, itfs: { networkId: string; accessVlanId?: number }[]) => ({
  uuidandversion: { uuid, version: '1' },
  displayname: name,
  activate: true,
  interfaces: itfs.map((i, k) => ({ name: `eth${k}`, acls: [{ matches: [{ type: 'ip', value: '0.0.0.0/0' }] }], ...i })),
});
const doc = {
  deviceIoList: [
    { ptype: 'PhyIoNetEth', phylabel: 'eth1', logicallabel: 'eth1', phyaddrs: { Ifname: 'eth1' }, usage: 'PhyIoUsageShared' },
    { ptype: 'PhyIoNetEth', phylabel: 'eth2', logicallabel: 'eth2', phyaddrs: { Ifname: 'eth2' }, usage: 'PhyIoUsageShared' },
  ],
  systemAdapterList: [{ name: 'trunk', lowerLayerName: 'eth1' }, { name: 'panel', lowerLayerName: 'eth2', sharedLabels: ['end-devices'] }],
  networkInstances: [
    { uuidandversion: { uuid: NI.plant, version: '1' }, displayname: 'plant', instType: 'ZnetInstSwitch', activate: true, port: { name: 'trunk' }, stp: { portsWithBpduGuard: 'trunk' } },
    { uuidandversion: { uuid: NI.panel, version: '1' }, displayname: 'panel', instType: 'ZnetInstSwitch', activate: true, port: { name: 'end-devices' }, vlanAccessPorts: [{ vlanId: 20, accessPort: 'end-devices' }] },
    { uuidandversion: { uuid: NI.lan, version: '1' }, displayname: 'lan', instType: 'ZnetInstLocal', activate: true, ipType: 'IPV4', ip: { subnet: '10.50.0.0/24', gateway: '10.50.0.1' } },
  ],
  apps: [
    app('6f1c2a9b-0000-4f60-8a71-000000000001', 'a10', [{ networkId: NI.plant, accessVlanId: 10 }]),
    app('6f1c2a9b-0000-4f60-8a71-000000000002', 'c20', [{ networkId: NI.plant, accessVlanId: 20 }, { networkId: NI.lan, accessVlanId: 30 }]),
    app('6f1c2a9b-0000-4f60-8a71-000000000003', 'all', [{ networkId: NI.plant, accessVlanId: 1 }, { networkId: NI.panel }]),
  ],
};

describe('EVE switch NI L2 settings', () => {
  const r = validateEveConfig(doc);

  it('maps accessVlanId (2–4093: access; 0/1: trunk; ignored on a local NI) and vlanAccessPorts', () => {
    const itf = (a: string) => r.config.apps.find((x) => x.name === a)?.interfaces ?? [];
    expect(itf('a10')[0]?.accessVlanId).toBe(10);
    expect(itf('c20').map((i) => i.accessVlanId)).toEqual([20, undefined]);
    expect(itf('all').map((i) => i.accessVlanId)).toEqual([undefined, undefined]);
    const panel = r.config.networks.find((n) => n.name === 'panel');
    expect(panel).toMatchObject({ type: 'switch', port: 'panel', vlanPorts: [{ port: 'panel', access: 20 }] });
    expect(r.findings.map((f) => `${f.level} ${f.path}`)).toEqual(
      expect.arrayContaining(['info apps[1].interfaces[1].accessVlanId', 'info networkInstances[0].stp.portsWithBpduGuard']),
    );
    // one port: EVE runs no STP
    expect(r.config.networks.find((n) => n.name === 'plant')).not.toHaveProperty('stp');
  });

  it('builds the same bridge VLAN entries as the native config', async () => {
    const entriesOf = async (config: unknown): Promise<Record<string, unknown>> => {
      const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-eve-vlan-'));
      const drivers = createFakeDrivers();
      for (const nic of ['eth1', 'eth2']) drivers.links.addExternal(nic);
      const taps = r.names.taps.map((t) => t.ifname);
      for (const tap of taps) drivers.links.addExternal(tap);
      const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0 });
      await net.apply(config);
      const out: Record<string, unknown> = {};
      for (const ifname of ['eth1', 'eth2', ...taps]) out[ifname] = await drivers.bridgePorts.vlanEntries(ifname);
      out['filtering'] = ['enbr-plant', 'enbr-panel'].map((b) => drivers.bridgePorts.bridgeOptions(b)?.vlanFiltering);
      await net.stop();
      await rm(stateDir, { recursive: true, force: true });
      return out;
    };
    const tapOf = (app: string, ni: string): string => r.names.taps.find((t) => t.app === app && t.network === ni)?.ifname ?? '?';
    const native = {
      ports: [{ name: 'trunk', ifname: 'eth1' }, { name: 'panel', ifname: 'eth2' }],
      networks: [
        { name: 'plant', type: 'switch', port: 'trunk' },
        { name: 'panel', type: 'switch', port: 'panel', vlanPorts: [{ port: 'panel', access: 20 }] },
        { name: 'lan', type: 'local', subnet: '10.50.0.0/24' },
      ],
      apps: [
        { name: 'a10', interfaces: [{ network: 'plant', tap: tapOf('a10', 'plant'), accessVlanId: 10 }] },
        { name: 'c20', interfaces: [{ network: 'plant', tap: tapOf('c20', 'plant'), accessVlanId: 20 }, { network: 'lan', tap: tapOf('c20', 'lan') }] },
        { name: 'all', interfaces: [{ network: 'plant', tap: tapOf('all', 'plant') }, { network: 'panel', tap: tapOf('all', 'panel') }] },
      ],
    };
    const eve = await entriesOf(r.config);
    expect(eve['filtering']).toEqual([true, true]);
    expect(eve[tapOf('a10', 'plant')]).toEqual([{ vid: 10, pvid: true, untagged: true }]);
    expect(await entriesOf(native)).toEqual(eve);
  });
});
