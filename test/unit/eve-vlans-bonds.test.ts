// EVE vlans[] and bonds[] (devmodel.proto VlanAdapter / BondAdapter) and multi-port switch NIs from a label, with
// stp, vlanAccessPorts and accessVlanId (netinst.proto): test/fixtures/eve/vlans-bonds.json, written from eve-api's
// schema, converts to VLAN and bond ports and builds the same data plane on the fake drivers as its native twin.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEdgenet } from '../../src/edgenet.ts';
import { validateEveConfig } from '../../src/eve/eve-load.ts';
import { eveL2Port } from '../../src/eve/eve-vlans-bonds.ts';
import { parseEdgeDevConfig } from '../../src/eve/eve-schema.ts';
import { createFakeDrivers } from '../../src/testing.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/eve/vlans-bonds.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const NICS = ['eth1', 'eth2', 'eth3', 'eth4', 'eth5'];

describe('EVE vlans[] and bonds[]', () => {
  const r = validateEveConfig(fixture);
  const tapOf = (app: string): string => r.names.taps.find((t) => t.app === app)?.ifname ?? '?';

  it('maps VLAN adapters to VLAN ports (on a PhysicalIO or on a bond, which is declared too) and bond adapters to bond ports', () => {
    expect(r.config.ports).toEqual([
      { name: 'office', ifname: 'eth1.10', vlan: { parent: 'eth1', id: 10 } },
      { name: 'plcnet', ifname: 'bond0.20', vlan: { parent: 'bond0', id: 20 } },
      { name: 'lag', ifname: 'bond0', bond: { members: ['eth2', 'eth3'], mode: 'active-backup', miimon: 100, upDelay: 200 } },
      { name: 'field-a', ifname: 'eth4' },
      { name: 'field-b', ifname: 'eth5' },
    ]);
    expect(r.errors).toEqual([]);
  });

  it('a label naming several ports gives a switch NI all of them, with STP and BPDU guard as EVE', () => {
    expect(r.config.networks.find((n) => n.name === 'field')).toEqual({
      name: 'field',
      type: 'switch',
      ports: ['field-a', 'field-b'],
      stp: { portsWithBpduGuard: ['field-b'], guardApps: true },
      vlanPorts: [{ port: 'field-b', access: 30 }],
    });
    expect(r.findings.map((f) => `${f.level} ${f.path}: ${f.message}`)).toEqual(
      expect.arrayContaining([
        'info networkInstances[2].port.name: shared label "field" names 2 ports (field-a, field-b): the switch network instance bridges them all, with spanning tree (as EVE)',
        'info networkInstances[1].port.name: VLAN 20 (vlans[1]) on bond "lag" (bond0)',
      ]),
    );
  });

  it('maps bond modes, the MII monitor (delays rounded down as the kernel does) and the LACP rate; says what it cannot build', () => {
    const eve = parseEdgeDevConfig({
      networkInstances: [],
      bonds: [
        { logicallabel: 'lacp', interfaceName: 'bond1', lowerLayerNames: ['eth6', 'eth7'], bondMode: 'BOND_MODE_802_3AD', lacpRate: 'LACP_RATE_FAST', mii: { interval: 100, updelay: 250 } },
        { logicallabel: 'rr', lowerLayerNames: ['eth8'], arp: { interval: 500, ipTargets: ['192.0.2.1'] } },
        { logicallabel: 'xor', lowerLayerNames: ['eth9'], bondMode: 3, lacpRate: 2 },
        { logicallabel: 'none', lowerLayerNames: [] },
      ],
      vlans: [{ logicallabel: 'q', lowerLayerName: 'none', vlanId: 5 }, { logicallabel: 'qq', lowerLayerName: 'q', vlanId: 6 }, { logicallabel: 'orphan', vlanId: 7 }],
    });
    expect(eveL2Port(eve, 'lacp')).toMatchObject({ ifname: 'bond1', bond: { members: ['eth6', 'eth7'], mode: '802.3ad', miimon: 100, upDelay: 200, lacpRate: 'fast' } });
    expect(eveL2Port(eve, 'lacp')).toMatchObject({ notes: [{ level: 'info', message: 'bonds[0].mii: delays rounded down to multiples of the 100 ms interval, as the kernel does' }] });
    // no interfaceName: the logical label is the interface (as EVE); UNSPECIFIED is round-robin
    expect(eveL2Port(eve, 'rr')).toMatchObject({ ifname: 'rr', bond: { members: ['eth8'], mode: 'balance-rr' }, notes: [{ level: 'warning', message: 'bonds[1].arp: ARP link monitoring is not implemented: bond "rr" is built without it' }] });
    expect(eveL2Port(eve, 'xor')).toMatchObject({ bond: { mode: 'balance-xor' }, notes: [{ level: 'info', message: 'bonds[2].lacpRate: applies to 802.3ad only (mode balance-xor): ignored' }] });
    expect(eveL2Port(eve, 'none')).toEqual({ refused: 'bond "none" (bonds[3]) has no lowerLayerNames' });
    expect(eveL2Port(eve, 'q')).toEqual({ refused: 'bond "none" (bonds[3]) has no lowerLayerNames' });
    expect(eveL2Port(eve, 'qq')).toEqual({ refused: 'VLAN adapter "qq" (vlans[1]) is on VLAN adapter "q": EVE puts VLANs on a PhysicalIO or a bond' });
    expect(eveL2Port(eve, 'orphan')).toEqual({ refused: 'VLAN adapter "orphan" (vlans[2]) has no lowerLayerName' });
    expect(eveL2Port(eve, 'eth1')).toBeUndefined();
  });

  it('a VLAN id out of range is an error at the EVE path', () => {
    const doc = structuredClone(fixture) as { vlans: { vlanId: number }[] };
    (doc.vlans[0] as { vlanId: number }).vlanId = 4095;
    expect(() => validateEveConfig(doc)).toThrow('vlans[0].vlanId: must be a VLAN id from 1 to 4094, got 4095');
  });

  it('builds the same data plane as the native config', async () => {
    const native = {
      ports: [
        { name: 'office', ifname: 'eth1.10', vlan: { parent: 'eth1', id: 10 } },
        { name: 'plcnet', ifname: 'bond0.20', vlan: { parent: 'bond0', id: 20 } },
        { name: 'lag', ifname: 'bond0', bond: { members: ['eth2', 'eth3'], mode: 'active-backup', miimon: 100, upDelay: 200 } },
        { name: 'field-a', ifname: 'eth4' },
        { name: 'field-b', ifname: 'eth5' },
      ],
      networks: [
        { name: 'office', type: 'local', port: 'office', subnet: '10.60.0.0/24', gateway: '10.60.0.1', dhcpRange: { start: '10.60.0.100', end: '10.60.0.199' } },
        { name: 'plant', type: 'switch', port: 'plcnet' },
        { name: 'field', type: 'switch', ports: ['field-a', 'field-b'], stp: { portsWithBpduGuard: ['field-b'], guardApps: true }, vlanPorts: [{ port: 'field-b', access: 30 }] },
      ],
      apps: [
        { name: 'web', interfaces: [{ network: 'office', tap: tapOf('web'), acls: r.config.apps.find((a) => a.name === 'web')?.interfaces[0]?.acls }] },
        { name: 'plc', interfaces: [{ network: 'plant', tap: tapOf('plc') }] },
        { name: 'sensor', interfaces: [{ network: 'field', tap: tapOf('sensor'), accessVlanId: 30 }] },
        { name: 'hmi', interfaces: [{ network: 'field', tap: tapOf('hmi') }] },
      ],
    };
    const eve = await dataPlane(r.config, r.names.taps.map((t) => t.ifname));
    // the bond first (the VLAN on it needs it), its members in it, the VLAN on it the switch NI's bridge port
    expect(eve.portLinks.map((l) => l.ifname)).toEqual(['bond0', 'eth1.10', 'bond0.20']);
    expect(eve.masters).toMatchObject({ eth2: 'bond0', eth3: 'bond0', 'bond0.20': 'enbr-plant', eth4: 'enbr-field', eth5: 'enbr-field' });
    expect(eve.masters['eth1.10']).toBeUndefined();
    expect(eve.nat).toBe('eth1.10');
    expect(eve.states).toEqual([['field', 'ready'], ['office', 'ready'], ['plant', 'ready']]);
    expect(eve.bridges['enbr-field']).toMatchObject({ stp: true, vlanFiltering: true });
    expect(eve.guards).toEqual(['eth5', tapOf('hmi'), tapOf('sensor')].sort());
    expect(await dataPlane(native, r.names.taps.map((t) => t.ifname))).toEqual(eve);
  });
});

/** What the fake kernel holds after applying `config`: port links, who is enslaved where, bridges, VLAN entries, guards, NAT. */
async function dataPlane(config: unknown, taps: string[]) {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgenet-eve-l2-'));
  const drivers = createFakeDrivers();
  for (const nic of [...NICS, ...taps]) drivers.links.addExternal(nic);
  const net = createEdgenet({ stateDir, drivers, auditIntervalMs: 0, linkThrottleMs: 0 });
  try {
    await net.apply(config);
    const links = await drivers.links.list();
    const nameOf = new Map(links.map((l) => [l.ifindex, l.ifname]));
    const masters = Object.fromEntries(links.flatMap((l) => (l.master !== undefined ? [[l.ifname, nameOf.get(l.master)]] : [])));
    const bridges = Object.fromEntries(links.filter((l) => l.kind === 'bridge').map((l) => [l.ifname, drivers.bridgePorts.bridgeOptions(l.ifname)]));
    const members = links.filter((l) => l.master !== undefined && links.find((b) => b.ifindex === l.master)?.kind === 'bridge').map((l) => l.ifname);
    const vlans = Object.fromEntries(await Promise.all(members.map(async (m) => [m, await drivers.bridgePorts.vlanEntries(m)] as const)));
    const guards = members.filter((m) => drivers.bridgePorts.guardOf(m)).sort();
    const portLinks = (await drivers.portLinks.list()).map(({ ifindex: _i, ...v }) => v);
    const nat = drivers.firewall.rulesFor('office')?.masqueradeOut;
    const states = net.status().networks.map((n) => [n.name, n.state]).sort();
    return { portLinks, masters, bridges, vlans, guards, nat, states };
  } finally {
    await net.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
