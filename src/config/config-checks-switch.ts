import type { ConfigIssue } from '../errors.ts';
import type { Config } from './config-schema.ts';
import { niPortNames, stpOptions } from './config-switch.ts';

// Rules of switch NIs with several ports: spanning tree required, guarded ports are the NI's own.

export function checkSwitchPorts(config: Config): ConfigIssue[] {
  return [...checkPortLists(config), ...checkVlans(config)];
}

function checkPortLists(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.networks.forEach((ni, i) => {
    const at = `networks[${i}]`;
    if (ni.ports === undefined) {
      if (ni.type === 'switch') issues.push(...guardedPorts(ni.name, at, ni.port === undefined ? [] : [ni.port], ni.stp));
      return;
    }
    if (ni.port !== undefined) {
      issues.push({ path: `${at}.ports`, message: 'port and ports are exclusive: name one port in port, or several in ports' });
      return;
    }
    const seen = new Map<string, number>();
    ni.ports.forEach((p, k) => {
      const first = seen.get(p);
      if (first !== undefined) issues.push({ path: `${at}.ports[${k}]`, message: `duplicate port "${p}" (also ports[${first}])` });
      else seen.set(p, k);
    });
    // a local NI with several ports selects one at a time (src/services/ni-routing.ts): no loop to break
    if (ni.type === 'local') return;
    if (ni.ports.length > 1 && stpOptions(ni.stp) === undefined) {
      issues.push({
        path: `${at}.ports`,
        message: `${ni.ports.length} ports on switch network "${ni.name}" need stp: true (ports onto one segment make a loop; the bridge's spanning tree breaks it)`,
      });
    }
    issues.push(...guardedPorts(ni.name, at, ni.ports, ni.stp));
  });
  return issues;
}

function guardedPorts(name: string, at: string, ports: readonly string[], stp: Parameters<typeof stpOptions>[0]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  stpOptions(stp)?.portsWithBpduGuard.forEach((p, k) => {
    if (!ports.includes(p)) issues.push({ path: `${at}.stp.portsWithBpduGuard[${k}]`, message: `"${p}" is not a port of switch network "${name}" (its ports: ${ports.join(', ') || 'none'})` });
  });
  return issues;
}

/** VLANs: access/trunk per port of the NI, app access VLANs only on switch NIs and carried by explicit trunks. */
function checkVlans(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.networks.forEach((ni, i) => {
    if (ni.type !== 'switch' || !ni.vlanPorts) return;
    const ports = niPortNames(ni);
    const seen = new Map<string, number>();
    ni.vlanPorts.forEach((vp, k) => {
      const at = `networks[${i}].vlanPorts[${k}]`;
      if (!ports.includes(vp.port)) issues.push({ path: `${at}.port`, message: `"${vp.port}" is not a port of switch network "${ni.name}" (its ports: ${ports.join(', ') || 'none'})` });
      const first = seen.get(vp.port);
      if (first !== undefined) issues.push({ path: `${at}.port`, message: `port "${vp.port}" already has its VLANs in vlanPorts[${first}]` });
      else seen.set(vp.port, k);
      if (vp.access !== undefined && vp.trunk !== undefined) issues.push({ path: at, message: 'a port is an access port (access: VLAN) or a trunk (trunk: [VLANs]), not both' });
      if (vp.access === undefined && vp.trunk === undefined) issues.push({ path: at, message: 'give access: VLAN (an access port) or trunk: [VLANs] (a trunk carrying only these)' });
    });
  });
  const networks = new Map(config.networks.map((n) => [n.name, n]));
  config.apps.forEach((app, a) => {
    app.interfaces.forEach((itf, k) => {
      if (itf.accessVlanId === undefined) return;
      const at = `apps[${a}].interfaces[${k}].accessVlanId`;
      const ni = networks.get(itf.network);
      if (!ni) return;
      if (ni.type !== 'switch') {
        issues.push({ path: at, message: `network "${ni.name}" is a local network: VLANs are for switch networks (a local NI routes, it does not carry tags)` });
        return;
      }
      for (const vp of ni.vlanPorts ?? []) {
        if (vp.trunk !== undefined && !vp.trunk.includes(itf.accessVlanId)) {
          issues.push({ path: at, message: `VLAN ${itf.accessVlanId} is not carried by trunk port "${vp.port}" of network "${ni.name}" (its trunk: ${vp.trunk.join(', ') || 'none'}): add it there` });
        }
      }
    });
  });
  return issues;
}
