import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { issuesOf } from '../helpers/config-issues.ts';
import { ConfigError } from '../../src/errors.ts';
import { formatPath, loadConfigFile, parseConfigText, validateConfig } from '../../src/config/config-load.ts';

const fixture = (name: string): string => new URL(`../fixtures/config/${name}`, import.meta.url).pathname;

type Doc = { ports: Record<string, unknown>[]; networks: Record<string, unknown>[]; apps: { name: string; interfaces: Record<string, unknown>[] }[] };

/** A small valid config; each row breaks one thing in a fresh copy. */
function base(): Doc {
  return {
    ports: [
      { name: 'uplink', ifname: 'eth1' },
      { name: 'fieldbus', ifname: 'eth2' },
    ],
    networks: [
      { name: 'lan', type: 'local', port: 'uplink', subnet: '10.50.0.0/24' },
      { name: 'plant', type: 'switch', port: 'fieldbus' },
      { name: 'lab', type: 'local', subnet: '10.60.0.0/24' },
    ],
    apps: [
      { name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }, { network: 'plant', tap: 'vif7' }] },
      { name: 'db', interfaces: [{ network: 'lab', netns: '/run/netns/db' }] },
    ],
  };
}


const doc = (edit: (d: Doc) => void) => (): unknown => {
  const d = base();
  edit(d);
  return validateConfig(d);
};
const text = (t: string) => (): unknown => parseConfigText(t);

// One row per class of mistake: the issue must name the path and the rule (and the offending value).
const badInput: { mistake: string; run: () => unknown; path: string; message: string | RegExp }[] = [
  // interface names Linux refuses (dev_valid_name): refused here, not by a create that fails forever
  { mistake: 'veth ifname ".."', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = '..'; }), path: 'apps[0].interfaces[0].ifname', message: 'must not be "." or "..": Linux refuses them as interface names, got ".."' },
  { mistake: 'veth ifname "."', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = '.'; }), path: 'apps[0].interfaces[0].ifname', message: 'must not be "." or "..": Linux refuses them as interface names, got "."' },
  { mistake: 'tap ".."', run: doc((d) => { d.apps[0]!.interfaces[1]!['tap'] = '..'; }), path: 'apps[0].interfaces[1].tap', message: 'must not be "." or "..": Linux refuses them as interface names, got ".."' },
  { mistake: 'port ifname "."', run: doc((d) => { d.ports[0]!['ifname'] = '.'; }), path: 'ports[0].ifname', message: 'must not be "." or "..": Linux refuses them as interface names, got "."' },
  { mistake: 'ifname with a slash', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = 'eth/0'; }), path: 'apps[0].interfaces[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "eth/0"' },
  { mistake: 'ifname with white space', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = 'eth 0'; }), path: 'apps[0].interfaces[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "eth 0"' },
  { mistake: 'tap with a tab', run: doc((d) => { d.apps[0]!.interfaces[1]!['tap'] = 'vif\t7'; }), path: 'apps[0].interfaces[1].tap', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "vif\\t7"' },
  { mistake: 'ifname of 16 bytes', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = 'eth0123456789abc'; }), path: 'apps[0].interfaces[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "eth0123456789abc"' },
  { mistake: 'ifname of non-ASCII letters (more bytes than letters)', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = 'ethé'; }), path: 'apps[0].interfaces[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "ethé"' },
  { mistake: 'empty ifname', run: doc((d) => { d.apps[0]!.interfaces[0]!['ifname'] = ''; }), path: 'apps[0].interfaces[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got ""' },
  { mistake: 'empty port ifname', run: doc((d) => { d.ports[1]!['ifname'] = ''; }), path: 'ports[1].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got ""' },
  { mistake: 'subnet overlapping a later one it contains', run: doc((d) => { d.networks[2]!['subnet'] = '10.50.0.0/16'; }), path: 'networks[2].subnet', message: 'subnet 10.50.0.0/16 overlaps subnet 10.50.0.0/24 of network "lan"' },
  { mistake: 'not YAML', run: text('ports: [a, b\nnetworks: {'), path: '', message: /^not valid YAML\/JSON: .+ at line \d+ col \d+$/ },
  { mistake: 'broken JSON', run: text('{ "ports": [ }'), path: '', message: /^not valid YAML\/JSON: .+ at line 1 col \d+$/ },
  { mistake: 'duplicate YAML key', run: text('ports: []\nports: []\n'), path: '', message: /^not valid YAML\/JSON: Map keys must be unique at line 2 col 1$/ },
  { mistake: 'empty document', run: text('  \n# nothing\n'), path: '', message: 'the config is empty: expected a document with ports, networks and apps' },
  { mistake: 'null document', run: () => validateConfig(null), path: '', message: 'the config is empty: expected a document with ports, networks and apps' },
  { mistake: 'scalar document', run: text('hello'), path: '', message: 'the config must be a mapping with ports, networks and apps, got the text "hello"' },
  { mistake: 'two documents', run: text('ports: []\n---\nports: []\n'), path: '', message: 'expected one YAML document, found 2 (separated by ---)' },
  { mistake: 'unknown NI type', run: doc((d) => { d.networks[2]!['type'] = 'bridge'; }), path: 'networks[2].type', message: 'type must be "local" or "switch", got "bridge"' },
  { mistake: 'missing NI type', run: doc((d) => { delete d.networks[1]!['type']; }), path: 'networks[1].type', message: 'type is required: "local" or "switch"' },
  { mistake: 'missing subnet on a local NI', run: doc((d) => { delete d.networks[2]!['subnet']; }), path: 'networks[2].subnet', message: 'is required' },
  { mistake: 'wrong value type', run: doc((d) => { d.networks[0]!['mtu'] = '1500'; }), path: 'networks[0].mtu', message: 'must be a number, got "1500"' },
  { mistake: 'number where a name goes', run: doc((d) => { d.apps[1]!.name = 1234 as unknown as string; }), path: 'apps[1].name', message: 'must be a string, got 1234 (quote it in YAML)' },
  { mistake: 'list where a mapping goes', run: doc((d) => { d.networks[0]!['dhcpRange'] = ['10.50.0.2', '10.50.0.9']; }), path: 'networks[0].dhcpRange', message: 'must be a mapping' },
  { mistake: 'unknown port reference', run: doc((d) => { d.networks[0]!['port'] = 'uplink2'; }), path: 'networks[0].port', message: 'unknown port "uplink2" (not in ports)' },
  { mistake: 'unknown network reference', run: doc((d) => { d.apps[0]!.interfaces[1]!['network'] = 'lan2'; }), path: 'apps[0].interfaces[1].network', message: 'unknown network "lan2"' },
  { mistake: 'duplicate network name', run: doc((d) => { d.networks[2]!['name'] = 'lan'; }), path: 'networks[2].name', message: 'duplicate network name "lan" (also networks[0])' },
  { mistake: 'duplicate app name', run: doc((d) => { d.apps[1]!.name = 'web'; }), path: 'apps[1].name', message: 'duplicate app name "web" (also apps[0])' },
  { mistake: 'duplicate port name', run: doc((d) => { d.ports[1]!['name'] = 'uplink'; }), path: 'ports[1].name', message: 'duplicate port name "uplink" (also ports[0])' },
  { mistake: 'duplicate port ifname', run: doc((d) => { d.ports[1]!['ifname'] = 'eth1'; }), path: 'ports[1].ifname', message: 'interface "eth1" is already port "uplink" (ports[0])' },
  { mistake: 'bad network name', run: doc((d) => { d.networks[2]!['name'] = 'Lab_1'; }), path: 'networks[2].name', message: 'must match [a-z0-9-]{1,15}, not starting or ending with "-", got "Lab_1"' },
  { mistake: 'network name too long', run: doc((d) => { d.networks[2]!['name'] = 'a-very-long-name'; }), path: 'networks[2].name', message: /^must match \[a-z0-9-\]\{1,15\}.*got "a-very-long-name"$/ },
  { mistake: 'bad interface name', run: doc((d) => { d.ports[0]!['ifname'] = 'eth 1'; }), path: 'ports[0].ifname', message: 'must be an interface name: [A-Za-z0-9_.-]{1,15}, got "eth 1"' },
  { mistake: 'unknown field', run: doc((d) => { d.apps[0]!.interfaces[0]!['nets'] = '/run/netns/x'; }), path: 'apps[0].interfaces[0]', message: 'unknown field "nets"' },
  { mistake: 'unknown top-level field', run: doc((d) => { (d as unknown as Record<string, unknown>)['endpoints'] = []; }), path: '', message: 'unknown field "endpoints"' },
  { mistake: 'subnet on a switch NI', run: doc((d) => { d.networks[1]!['subnet'] = '10.70.0.0/24'; }), path: 'networks[1]', message: 'unknown field "subnet" (switch networks have no subnet)' },
  { mistake: 'DHCP on a switch NI', run: doc((d) => { d.networks[1]!['dhcpRange'] = { start: '10.0.0.2', end: '10.0.0.9' }; }), path: 'networks[1]', message: 'unknown field "dhcpRange" (switch networks have no IP services)' },
  { mistake: 'two ports on one NI', run: doc((d) => { d.networks[1]!['port'] = ['fieldbus', 'uplink']; }), path: 'networks[1].port', message: '2 ports given: port names one port; several go in ports: [...]' },
  {
    mistake: 'several ports on a switch NI without stp',
    run: doc((d) => { d.ports.push({ name: 'field2', ifname: 'eth3' }); delete d.networks[1]!['port']; d.networks[1]!['ports'] = ['fieldbus', 'field2']; }),
    path: 'networks[1].ports',
    message: '2 ports on switch network "plant" need stp: true (ports onto one segment make a loop; the bridge\'s spanning tree breaks it)',
  },
  { mistake: 'port and ports on one NI', run: doc((d) => { d.networks[1]!['ports'] = ['fieldbus']; }), path: 'networks[1].ports', message: 'port and ports are exclusive: name one port in port, or several in ports' },
  // several ports on a local NI are fine (one is selected at a time); an unknown one is not
  {
    mistake: 'unknown port in a local NI\'s ports',
    run: doc((d) => { delete d.networks[0]!['port']; d.networks[0]!['ports'] = ['uplink', 'up2']; }),
    path: 'networks[0].ports[1]',
    message: 'unknown port "up2" (not in ports)',
  },
  { mistake: 'port cost out of range', run: doc((d) => { d.ports[0]!['cost'] = 256; }), path: 'ports[0].cost', message: 'cost must be at most 255, got 256' },
  { mistake: 'tcp probe without a port', run: doc((d) => { d.ports[0]!['probe'] = { kind: 'tcp', host: '192.0.2.1' }; }), path: 'ports[0].probe.port', message: 'is required' },
  { mistake: 'a port twice in ports', run: doc((d) => { delete d.networks[1]!['port']; d.networks[1]!['ports'] = ['fieldbus', 'fieldbus']; d.networks[1]!['stp'] = true; }), path: 'networks[1].ports[1]', message: 'duplicate port "fieldbus" (also ports[0])' },
  { mistake: 'BPDU guard on a port of another NI', run: doc((d) => { d.networks[1]!['stp'] = { portsWithBpduGuard: ['uplink'] }; }), path: 'networks[1].stp.portsWithBpduGuard[0]', message: '"uplink" is not a port of switch network "plant" (its ports: fieldbus)' },
  { mistake: 'STP forward delay out of range', run: doc((d) => { d.networks[1]!['stp'] = { forwardDelay: 1 }; }), path: 'networks[1].stp.forwardDelay', message: 'must be at least 2 (seconds; the kernel refuses less while STP runs), got 1' },
  { mistake: 'stp on a local NI', run: doc((d) => { d.networks[0]!['stp'] = true; }), path: 'networks[0]', message: /^unknown field "stp"/ },
  { mistake: 'VLAN id out of range', run: doc((d) => { d.apps[0]!.interfaces[1]!['accessVlanId'] = 4094; }), path: 'apps[0].interfaces[1].accessVlanId', message: 'must be a VLAN id from 2 to 4093, got 4094' },
  { mistake: 'access port VLAN out of range', run: doc((d) => { d.networks[1]!['vlanPorts'] = [{ port: 'fieldbus', access: 0 }]; }), path: 'networks[1].vlanPorts[0].access', message: 'must be a VLAN id from 1 to 4094, got 0' },
  { mistake: 'VLAN on a local NI app interface', run: doc((d) => { d.apps[0]!.interfaces[0]!['accessVlanId'] = 10; }), path: 'apps[0].interfaces[0].accessVlanId', message: 'network "lan" is a local network: VLANs are for switch networks (a local NI routes, it does not carry tags)' },
  {
    mistake: 'access VLAN not carried by a trunk port',
    run: doc((d) => { d.apps[0]!.interfaces[1]!['accessVlanId'] = 30; d.networks[1]!['vlanPorts'] = [{ port: 'fieldbus', trunk: [10, 20] }]; }),
    path: 'apps[0].interfaces[1].accessVlanId',
    message: 'VLAN 30 is not carried by trunk port "fieldbus" of network "plant" (its trunk: 10, 20): add it there',
  },
  { mistake: 'access and trunk on one port', run: doc((d) => { d.networks[1]!['vlanPorts'] = [{ port: 'fieldbus', access: 10, trunk: [10] }]; }), path: 'networks[1].vlanPorts[0]', message: 'a port is an access port (access: VLAN) or a trunk (trunk: [VLANs]), not both' },
  { mistake: 'VLANs for a port of another NI', run: doc((d) => { d.networks[1]!['vlanPorts'] = [{ port: 'uplink', access: 10 }]; }), path: 'networks[1].vlanPorts[0].port', message: '"uplink" is not a port of switch network "plant" (its ports: fieldbus)' },
  // VLAN and bond ports (ports[].vlan / ports[].bond)
  { mistake: 'VLAN port id out of range', run: doc((d) => { d.ports.push({ name: 'v10', ifname: 'eth1.10', vlan: { parent: 'eth1', id: 4095 } }); }), path: 'ports[2].vlan.id', message: 'must be a VLAN id from 1 to 4094, got 4095' },
  { mistake: 'VLAN port without parent', run: doc((d) => { d.ports.push({ name: 'v10', ifname: 'eth1.10', vlan: { id: 10 } }); }), path: 'ports[2].vlan.parent', message: 'is required' },
  { mistake: 'VLAN port on itself', run: doc((d) => { d.ports.push({ name: 'v10', ifname: 'eth1.10', vlan: { parent: 'eth1.10', id: 10 } }); }), path: 'ports[2].vlan.parent', message: 'a VLAN sub-interface cannot be its own parent ("eth1.10")' },
  {
    mistake: 'one VLAN twice on a parent',
    run: doc((d) => { d.ports.push({ name: 'v10', ifname: 'eth1.10', vlan: { parent: 'eth1', id: 10 } }, { name: 'v10b', ifname: 'vl10', vlan: { parent: 'eth1', id: 10 } }); }),
    path: 'ports[3].vlan.id',
    message: 'VLAN 10 on "eth1" is already port "v10"',
  },
  { mistake: 'vlan and bond on one port', run: doc((d) => { d.ports.push({ name: 'x', ifname: 'x0', vlan: { parent: 'eth1', id: 10 }, bond: { members: ['eth5'] } }); }), path: 'ports[2].bond', message: 'vlan and bond are exclusive: a port is a VLAN sub-interface or a bond, not both' },
  { mistake: 'unknown bond mode', run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5'], mode: 'lacp' } }); }), path: 'ports[2].bond.mode', message: /^must be one of balance-rr, active-backup, balance-xor, broadcast, 802\.3ad, balance-tlb, balance-alb/ },
  { mistake: 'bond without members', run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: [] } }); }), path: 'ports[2].bond.members', message: 'must name at least one member link' },
  {
    mistake: 'a bond member that is another NI\'s port',
    run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth2', 'eth5'] } }); }),
    path: 'ports[2].bond.members[0]',
    message: '"eth2" is port "fieldbus" of network "plant": a bond member carries nothing of its own',
  },
  {
    mistake: 'one member in two bonds',
    run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5'] } }, { name: 'b1', ifname: 'bond1', bond: { members: ['eth6', 'eth5'] } }); }),
    path: 'ports[3].bond.members[1]',
    message: '"eth5" is already a member of bond port "b0"',
  },
  {
    mistake: 'a VLAN on a bond member',
    run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5', 'eth6'] } }, { name: 'v10', ifname: 'eth5.10', vlan: { parent: 'eth5', id: 10 } }); }),
    path: 'ports[3].vlan.parent',
    message: '"eth5" is a member of bond port "b0": put the VLAN on the bond',
  },
  { mistake: 'lacpRate outside 802.3ad', run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5'], mode: 'active-backup', lacpRate: 'fast' } }); }), path: 'ports[2].bond.lacpRate', message: 'lacpRate applies to mode 802.3ad only (mode is active-backup)' },
  { mistake: 'bond upDelay without miimon', run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5'], upDelay: 200 } }); }), path: 'ports[2].bond.upDelay', message: 'upDelay needs miimon (the MII monitor whose interval it counts in)' },
  { mistake: 'bond downDelay not a multiple of miimon', run: doc((d) => { d.ports.push({ name: 'b0', ifname: 'bond0', bond: { members: ['eth5'], miimon: 100, downDelay: 150 } }); }), path: 'ports[2].bond.downDelay', message: 'downDelay must be a multiple of miimon (100 ms)' },
  { mistake: 'tap and netns on one endpoint', run: doc((d) => { d.apps[0]!.interfaces[1]!['netns'] = '/run/netns/web'; }), path: 'apps[0].interfaces[1]', message: "an interface has either tap (a hypervisor's interface) or netns (a veth into a namespace), not both" },
  { mistake: 'neither tap nor netns', run: doc((d) => { delete d.apps[1]!.interfaces[0]!['netns']; }), path: 'apps[1].interfaces[0]', message: "an interface needs netns (a veth into the app's namespace) or tap (a hypervisor's interface)" },
  { mistake: 'relative netns path', run: doc((d) => { d.apps[1]!.interfaces[0]!['netns'] = 'db'; }), path: 'apps[1].interfaces[0].netns', message: 'must be a namespace path such as /run/netns/web, or a pid, got "db"' },
  { mistake: 'ifname on a tap', run: doc((d) => { d.apps[0]!.interfaces[1]!['ifname'] = 'eth1'; }), path: 'apps[0].interfaces[1].ifname', message: 'ifname names a veth inside the app\'s namespace; tap interface "vif7" is named by tap' },
  {
    mistake: 'two switch NIs sharing one port',
    run: doc((d) => { d.networks.push({ name: 'plant2', type: 'switch', port: 'fieldbus' }); }),
    path: 'networks[3].port',
    message: 'port "fieldbus" is already bridged by switch network "plant": two switch networks cannot share a port',
  },
  {
    mistake: 'a local NI on a port of a switch NI with several ports',
    run: doc((d) => { d.networks[1] = { name: 'plant', type: 'switch', ports: ['fieldbus', 'uplink'], stp: {} }; }),
    path: 'networks[0].port',
    message: 'port "uplink" is one of several ports of switch network "plant": a local network cannot share it (only a single-port switch network\'s port carries the device\'s addresses)',
  },
  { mistake: 'overlapping subnets', run: doc((d) => { d.networks[2]!['subnet'] = '10.50.0.0/16'; }), path: 'networks[2].subnet', message: 'subnet 10.50.0.0/16 overlaps subnet 10.50.0.0/24 of network "lan"' },
  { mistake: 'subnet with host bits', run: doc((d) => { d.networks[2]!['subnet'] = '10.60.0.7/24'; }), path: 'networks[2].subnet', message: 'subnet 10.60.0.7/24 has host bits set (did you mean 10.60.0.0/24?)' },
  { mistake: 'subnet too small', run: doc((d) => { d.networks[2]!['subnet'] = '10.60.0.0/31'; }), path: 'networks[2].subnet', message: 'subnet 10.60.0.0/31 is too small: a local network needs at least a /30 (a gateway and one host)' },
  { mistake: 'loopback subnet', run: doc((d) => { d.networks[2]!['subnet'] = '127.1.0.0/16'; }), path: 'networks[2].subnet', message: 'subnet 127.1.0.0/16 is loopback address space' },
  { mistake: 'gateway outside subnet', run: doc((d) => { d.networks[0]!['gateway'] = '10.51.0.1'; }), path: 'networks[0].gateway', message: 'gateway 10.51.0.1 is outside subnet 10.50.0.0/24' },
  { mistake: 'gateway on the broadcast address', run: doc((d) => { d.networks[0]!['gateway'] = '10.50.0.255'; }), path: 'networks[0].gateway', message: 'gateway 10.50.0.255 is the broadcast address of subnet 10.50.0.0/24' },
  { mistake: 'DHCP range outside subnet', run: doc((d) => { d.networks[0]!['dhcpRange'] = { start: '10.50.0.100', end: '10.50.1.20' }; }), path: 'networks[0].dhcpRange.end', message: 'DHCP range end 10.50.1.20 is outside subnet 10.50.0.0/24' },
  { mistake: 'DHCP range reversed', run: doc((d) => { d.networks[0]!['dhcpRange'] = { start: '10.50.0.200', end: '10.50.0.100' }; }), path: 'networks[0].dhcpRange', message: 'DHCP range start 10.50.0.200 is after its end 10.50.0.100' },
  { mistake: 'DHCP range containing the gateway', run: doc((d) => { d.networks[0]!['dhcpRange'] = { start: '10.50.0.1', end: '10.50.0.99' }; }), path: 'networks[0].dhcpRange', message: 'DHCP range 10.50.0.1-10.50.0.99 contains the gateway 10.50.0.1 (default: first host)' },
  { mistake: 'static ip outside subnet', run: doc((d) => { d.apps[0]!.interfaces[0]!['ip'] = '10.60.0.10'; }), path: 'apps[0].interfaces[0].ip', message: 'ip 10.60.0.10 is outside subnet 10.50.0.0/24 of network "lan"' },
  { mistake: 'static ip on the gateway', run: doc((d) => { d.apps[0]!.interfaces[0]!['ip'] = '10.50.0.1'; }), path: 'apps[0].interfaces[0].ip', message: 'ip 10.50.0.1 is the gateway of network "lan"' },
  { mistake: 'ip on a switch NI', run: doc((d) => { d.apps[0]!.interfaces[1]!['ip'] = '10.70.0.5'; }), path: 'apps[0].interfaces[1].ip', message: 'switch network "plant" has no IP services: ip is only for local networks' },
  {
    mistake: 'static ip used twice on an NI',
    run: doc((d) => {
      d.apps[0]!.interfaces[0]!['ip'] = '10.50.0.10';
      d.apps[1]!.interfaces.push({ network: 'lan', netns: '/run/netns/db', ip: '10.50.0.10' });
    }),
    path: 'apps[1].interfaces[1].ip',
    message: 'ip 10.50.0.10 is already used by app "web" on network "lan"',
  },
  {
    mistake: 'mac used twice on an NI',
    run: doc((d) => {
      d.apps[0]!.interfaces[0]!['mac'] = '02:00:00:00:00:01';
      d.apps[1]!.interfaces.push({ network: 'lan', netns: '/run/netns/db', mac: '02:00:00:00:00:01' });
    }),
    path: 'apps[1].interfaces[1].mac',
    message: 'mac 02:00:00:00:00:01 is already used by app "web" on network "lan"',
  },
  { mistake: 'multicast mac', run: doc((d) => { d.apps[0]!.interfaces[0]!['mac'] = '01:00:5e:00:00:01'; }), path: 'apps[0].interfaces[0].mac', message: /^must be a unicast MAC address .*, got "01:00:5e:00:00:01"$/ },
  { mistake: 'app joining a network twice', run: doc((d) => { d.apps[1]!.interfaces.push({ network: 'lab', netns: '/run/netns/db2' }); }), path: 'apps[1].interfaces[1].network', message: 'app "db" already joins network "lab" (interfaces[0]): an app joins a network once' },
  {
    mistake: 'two veths with one name in one namespace',
    run: doc((d) => { d.apps[1]!.interfaces.push({ network: 'lan', netns: '/run/netns/db', ifname: 'eth0' }); }),
    path: 'apps[1].interfaces[1].ifname',
    message: 'interface name "eth0" in namespace /run/netns/db is already used by app "db" on network "lab"',
  },
  { mistake: 'one tap on two endpoints', run: doc((d) => { d.apps[1]!.interfaces.push({ network: 'plant', tap: 'vif7' }); }), path: 'apps[1].interfaces[1].tap', message: 'tap "vif7" is already used by app "web" on network "plant"' },
  { mistake: 'tap named like a port', run: doc((d) => { d.apps[0]!.interfaces[1]!['tap'] = 'eth2'; }), path: 'apps[0].interfaces[1].tap', message: 'tap "eth2" is the interface of port "fieldbus"' },
  { mistake: "tap named like edgenet's links", run: doc((d) => { d.apps[0]!.interfaces[1]!['tap'] = 'enbr-plant'; }), path: 'apps[0].interfaces[1].tap', message: 'interface name "enbr-plant" is reserved: names starting "enbr" or "env" + 12 hex digits are edgenet\'s own links' },
  { mistake: "port named like edgenet's links", run: doc((d) => { d.ports[0]!['ifname'] = 'env0123456789ab'; }), path: 'ports[0].ifname', message: /^interface name "env0123456789ab" is reserved/ },
  {
    mistake: 'duplicate DNS host name',
    run: doc((d) => { d.networks[0]!['dns'] = { hosts: [{ name: 'printer', ip: '10.50.0.250' }, { name: 'printer', ip: '10.50.0.251' }] }; }),
    path: 'networks[0].dns.hosts[1].name',
    message: 'duplicate DNS host name "printer" on network "lan" (also dns.hosts[0])',
  },
  {
    mistake: 'DNS host named like an app on the NI',
    run: doc((d) => { d.networks[0]!['dns'] = { hosts: [{ name: 'web', ip: '10.50.0.250' }] }; }),
    path: 'apps[0].interfaces[0].network',
    message: 'app "web" gets the DNS name "web" on network "lan", which dns.hosts[0] also defines',
  },
  // what apps are told, static routes, static DNS entries (issue 15)
  { mistake: 'NTP server not an address', run: doc((d) => { d.networks[0]!['dhcp'] = { ntp: ['pool.ntp.org'] }; }), path: 'networks[0].dhcp.ntp[0]', message: 'must be an IPv4 address, got "pool.ntp.org"' },
  { mistake: 'DNS server for apps not an address', run: doc((d) => { d.networks[0]!['dhcp'] = { dns: ['10.50.0.300'] }; }), path: 'networks[0].dhcp.dns[0]', message: 'must be an IPv4 address, got "10.50.0.300"' },
  { mistake: 'port DNS server not an address', run: doc((d) => { d.ports[0]!['dns'] = ['dns.google']; }), path: 'ports[0].dns[0]', message: 'must be an IPv4 address, got "dns.google"' },
  { mistake: 'port resolv file not a path', run: doc((d) => { d.ports[0]!['resolvConf'] = 'resolv.conf'; }), path: 'ports[0].resolvConf', message: 'must be an absolute file path, got "resolv.conf"' },
  { mistake: 'domain not a DNS name', run: doc((d) => { d.networks[0]!['dhcp'] = { domain: 'plant_example..com' }; }), path: 'networks[0].dhcp.domain', message: /^must be a DNS name: labels of .*, got "plant_example\.\.com"$/ },
  { mistake: 'DHCP options on a switch NI', run: doc((d) => { d.networks[1]!['dhcp'] = { ntp: ['10.0.0.1'] }; }), path: 'networks[1]', message: 'unknown field "dhcp" (switch networks have no IP services)' },
  { mistake: 'route destination not a prefix', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.70.0.0', via: '10.50.0.20' }]; }), path: 'networks[0].routes[0].to', message: 'must be an IPv4 prefix such as 10.0.0.0/24, got "10.70.0.0"' },
  { mistake: 'route destination with host bits', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.70.0.1/16', via: '10.50.0.20' }]; }), path: 'networks[0].routes[0].to', message: 'route destination 10.70.0.1/16 has host bits set (did you mean 10.70.0.0/16?)' },
  { mistake: 'route overlapping the NI\'s own subnet', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.50.0.128/25', via: '10.50.0.20' }]; }), path: 'networks[0].routes[0].to', message: 'route to 10.50.0.128/25 overlaps the subnet 10.50.0.0/24 of network "lan" itself (its apps reach it directly)' },
  { mistake: 'route repeated', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.70.0.0/16', via: '10.50.0.20' }, { to: '10.70.0.0/16', via: '10.50.0.21' }]; }), path: 'networks[0].routes[1].to', message: 'a second route to 10.70.0.0/16 on network "lan" (also routes[0])' },
  { mistake: 'route gateway not an address', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.70.0.0/16', via: 'gw' }]; }), path: 'networks[0].routes[0].via', message: 'must be an IPv4 address, got "gw"' },
  { mistake: 'route gateway on the broadcast address', run: doc((d) => { d.networks[0]!['routes'] = [{ to: '10.70.0.0/16', via: '10.50.0.255' }]; }), path: 'networks[0].routes[0].via', message: 'route gateway 10.50.0.255 is the broadcast address of subnet 10.50.0.0/24' },
  {
    mistake: 'route gateway off the subnet of a port-less NI',
    run: doc((d) => { d.networks[2]!['routes'] = [{ to: '10.70.0.0/16', via: '192.168.1.1' }]; }),
    path: 'networks[2].routes[0].via',
    message: /^route gateway 192\.168\.1\.1 is not on the subnet 10\.60\.0\.0\/24 of network "lab", which has no port/,
  },
  {
    mistake: 'route gateway neither on the NI\'s subnet nor on a subnet of its ports',
    run: () => validateConfig(
      { ...base(), networks: [{ name: 'lan', type: 'local', port: 'uplink', subnet: '10.50.0.0/24', routes: [{ to: '10.70.0.0/16', via: '192.168.9.1' }] }], apps: [] },
      undefined,
      { addressesOf: (ifname) => (ifname === 'eth1' ? [{ address: '192.168.77.1', prefixlen: 24 }] : []) },
    ),
    path: 'networks[0].routes[0].via',
    message: 'route gateway 192.168.9.1 is neither on the subnet 10.50.0.0/24 of network "lan" nor on a subnet of its ports (192.168.77.0/24 on port "uplink" (eth1))',
  },
  { mistake: 'DNS entry without an address', run: doc((d) => { d.networks[0]!['dns'] = { hosts: [{ name: 'historian.plant.example' }] }; }), path: 'networks[0].dns.hosts[0]', message: 'DNS entry "historian.plant.example" needs an address: ip or ips' },
  { mistake: 'DNS entry name not a DNS name', run: doc((d) => { d.networks[0]!['dns'] = { hosts: [{ name: 'his torian', ip: '10.50.0.30' }] }; }), path: 'networks[0].dns.hosts[0].name', message: /^must be a DNS name: .*, got "his torian"$/ },
  { mistake: 'DNS entry address not an address', run: doc((d) => { d.networks[0]!['dns'] = { hosts: [{ name: 'historian', ips: ['10.50.0.30', 'x'] }] }; }), path: 'networks[0].dns.hosts[0].ips[1]', message: 'must be an IPv4 address, got "x"' },
  // ACLs (src/config/acl-schema.ts, acl-checks.ts)
  ...((): { mistake: string; run: () => unknown; path: string; message: string | RegExp }[] => {
    const acl = (rules: unknown[], itf = 0, app = 0) => doc((d) => { d.apps[app]!.interfaces[itf]!['acls'] = rules; });
    const at = 'apps[0].interfaces[0].acls';
    return [
      { mistake: 'ACL: unknown match type', run: acl([{ match: { proto: 'tcp' } }]), path: `${at}[0].match`, message: /^unknown match type "proto": one of ip, host, protocol, lport, fport, adapter/ },
      { mistake: 'ACL: port out of range', run: acl([{ match: { protocol: 'tcp', fport: 70000 } }]), path: `${at}[0].match.fport`, message: /^must be a port number 1–65535/ },
      { mistake: 'ACL: port 0', run: acl([{ match: { protocol: 'udp', lport: 0 } }]), path: `${at}[0].match.lport`, message: /^must be a port number 1–65535/ },
      { mistake: 'ACL: bad CIDR', run: acl([{ match: { ip: '10.0.0.0/33' } }]), path: `${at}[0].match.ip`, message: /^must be an IPv4 address or prefix such as 192\.0\.2\.0\/24/ },
      { mistake: 'ACL: rate 0', run: acl([{ match: { protocol: 'icmp' }, action: 'limit', limit: { rate: 0 } }]), path: `${at}[0].limit.rate`, message: /^must be at least 1 \(a rate of 0 lets nothing through: use action drop\)/ },
      { mistake: 'ACL: limit without limit', run: acl([{ action: 'limit' }]), path: `${at}[0].limit`, message: 'action limit needs limit: { rate, unit, burst }' },
      { mistake: 'ACL: portmap without appPort', run: acl([{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap' }]), path: `${at}[0].appPort`, message: "action portmap needs appPort (the app's port to forward to)" },
      { mistake: 'ACL: portmap without lport', run: acl([{ match: { protocol: 'tcp' }, action: 'portmap', appPort: 80 }]), path: `${at}[0].match.lport`, message: 'action portmap needs lport (the port exposed on the device)' },
      { mistake: 'ACL: port without protocol', run: acl([{ match: { fport: 80 } }]), path: `${at}[0].match.fport`, message: 'a port match needs protocol "tcp" or "udp" in the same rule' },
      { mistake: 'ACL: unknown action', run: acl([{ action: 'reject' }]), path: `${at}[0].action`, message: /^must be "allow", "drop", "limit" or "portmap"/ },
      { mistake: 'ACL: bad protocol', run: acl([{ match: { protocol: 'sctpx' } }]), path: `${at}[0].match.protocol`, message: /^must be "tcp", "udp", "icmp", "all" or an IP protocol number 0–255/ },
      { mistake: 'ACL: on a switch NI', run: acl([{ match: { ip: '10.0.0.0/8' } }], 1), path: 'apps[0].interfaces[1].acls', message: 'switch network "plant" forwards frames untouched: ACLs are for local networks' },
      { mistake: 'ACL: portmap on a port-less NI', run: acl([{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap', appPort: 80 }], 0, 1), path: 'apps[1].interfaces[0].acls[0].action', message: 'network "lab" has no port: nothing can arrive to forward (portmap needs a local network with a port)' },
      { mistake: 'ACL: duplicate rule id', run: acl([{ id: 3 }, { id: 3 }]), path: `${at}[1].id`, message: 'rule id 3 is already used by acls[0]' },
      { mistake: 'ACL: adapter not a port of the NI', run: acl([{ match: { adapter: 'fieldbus' } }]), path: `${at}[0].match.adapter`, message: 'port "fieldbus" is not a port of network "lan"' },
      {
        mistake: 'ACL: two forwards of one port/protocol/lport',
        run: doc((d) => {
          d.apps[0]!.interfaces[0]!['acls'] = [{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap', appPort: 80 }];
          d.apps.push({ name: 'api', interfaces: [{ network: 'lan', netns: '/run/netns/api', acls: [{ match: { protocol: 'tcp', lport: 8080 }, action: 'portmap', appPort: 8000 }] }] });
        }),
        path: 'apps[2].interfaces[0].acls[0].match.lport',
        message: 'tcp port 8080 on port "uplink" is already forwarded to app "web" (apps[0].interfaces[0].acls[0])',
      },
    ];
  })(),
];

describe('bad config input', () => {
  it.each(badInput)('$mistake → $path', ({ run, path, message }) => {
    const issues = issuesOf(run);
    expect(issues).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });

  it('reports every issue at once, each with its path, and the error text names the source', () => {
    const d = base();
    d.networks[0]!['port'] = 'nope';
    d.apps[0]!.interfaces[1]!['network'] = 'lan2';
    let error: unknown;
    try {
      validateConfig(d, 'edge.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.issues.map((i) => i.path)).toEqual(['networks[0].port', 'apps[0].interfaces[1].network']);
    expect(e.message).toBe(
      'invalid config (edge.yaml):\n  networks[0].port: unknown port "nope" (not in ports)\n  apps[0].interfaces[1].network: unknown network "lan2"',
    );
  });

  it('a missing file is a ConfigError naming the file', async () => {
    await expect(loadConfigFile('/nonexistent/edgenet.yaml')).rejects.toMatchObject({
      kind: 'ConfigError',
      source: '/nonexistent/edgenet.yaml',
      issues: [{ path: '', message: expect.stringMatching(/^cannot read config file: .*ENOENT/) }],
    });
  });
});

describe('port addresses (checked with the kernel\'s addresses)', () => {
  const addresses: Record<string, { address: string; prefixlen: number }[]> = {
    eth1: [{ address: 'fe80::1', prefixlen: 64 }, { address: '10.50.3.7', prefixlen: 16 }],
    eth2: [],
  };
  const addressesOf = (ifname: string) => addresses[ifname] ?? [];

  it('refuses a local NI subnet overlapping an address on its port', () => {
    const issues = issuesOf(() => validateConfig(base(), undefined, { addressesOf }));
    expect(issues).toEqual([
      {
        path: 'networks[0].subnet',
        message: 'subnet 10.50.0.0/24 overlaps address 10.50.3.7/16 already on its port "uplink" (eth1): the device would lose its uplink',
      },
    ]);
  });

  it('accepts a subnet clear of the port addresses', () => {
    const d = base();
    d.networks[0]!['subnet'] = '10.49.0.0/24';
    expect(() => validateConfig(d, undefined, { addressesOf })).not.toThrow();
  });
});

describe('good config input', () => {
  it('parses the DESIGN §3 example from YAML and JSON to the same config', async () => {
    const fromYaml = await loadConfigFile(fixture('design-example.yaml'));
    const fromJson = await loadConfigFile(fixture('design-example.json'));
    expect(fromJson).toEqual(fromYaml);
    expect(fromYaml.networks.map((n) => [n.name, n.type, n.port])).toEqual([
      ['lan', 'local', 'uplink'],
      ['plant', 'switch', 'fieldbus'],
    ]);
    expect(fromYaml.apps[0]?.interfaces[0]).toEqual({ network: 'lan', netns: '/run/netns/web', ifname: 'eth0', ip: '10.50.0.10' });
  });

  it('parses JSON text and YAML text, and fills list defaults', () => {
    const json = parseConfigText(JSON.stringify({ networks: [{ name: 'lan', type: 'local', subnet: '10.9.0.0/24' }] }));
    const yaml = parseConfigText('networks:\n  - name: lan\n    type: local\n    subnet: 10.9.0.0/24\n');
    expect(json).toEqual(yaml);
    expect(yaml).toEqual({ ports: [], networks: [{ name: 'lan', type: 'local', subnet: '10.9.0.0/24' }], apps: [] });
  });

  it('accepts an empty mapping as an empty config', () => {
    expect(parseConfigText('{}')).toEqual({ ports: [], networks: [], apps: [] });
  });

  it('accepts systemd-style NIC names on ports (only edgenet\'s own name shapes are reserved)', () => {
    const d = base();
    d.ports[0]!['ifname'] = 'enp3s0';
    expect(() => validateConfig(d)).not.toThrow();
  });

  it('lower-cases a given MAC and accepts a pid as netns', () => {
    const d = base();
    d.apps[1]!.interfaces[0] = { network: 'lab', netns: 4242, mac: '02:AB:CD:00:00:01' };
    const config = validateConfig(d);
    expect(config.apps[1]?.interfaces[0]).toEqual({ network: 'lab', netns: 4242, mac: '02:ab:cd:00:00:01' });
  });

  it('the test fixture really is the DESIGN example', () => {
    expect(readFileSync(fixture('design-example.yaml'), 'utf8')).toContain('dhcpRange: { start: 10.50.0.100, end: 10.50.0.199 }');
  });
});

describe('formatPath', () => {
  it.each([
    [[], ''],
    [['networks', 1, 'port'], 'networks[1].port'],
    [['apps', 0, 'interfaces', 2, 'ip'], 'apps[0].interfaces[2].ip'],
    [['odd key'], '["odd key"]'],
  ] as const)('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});
