import type { ConfigIssue } from '../errors.ts';
import type { Config } from './config-schema.ts';
import { stpOptions } from './config-switch.ts';

// Rules of switch NIs with several ports: spanning tree required, guarded ports are the NI's own.

export function checkSwitchPorts(config: Config): ConfigIssue[] {
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
    // a local NI with several ports selects one at a time (src/ni-routing.ts): no loop to break
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
