import type { ConfigIssue } from '../errors.ts';
import type { Config } from './config-schema.ts';
import { niPortNames } from './config-switch.ts';

// ACL rules the schema cannot judge alone: where a rule is (switch or local NI, which ports), and forwards that collide.

const protoName = (p: string | number | undefined): string => (p === 6 ? 'tcp' : p === 17 ? 'udp' : String(p));

export function checkAcls(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const networks = new Map(config.networks.map((ni) => [ni.name, ni]));
  const portNames = new Set(config.ports.map((p) => p.name));
  // port/protocol/lport → who forwards it
  const forwards = new Map<string, string>();
  config.apps.forEach((app, a) => {
    app.interfaces.forEach((itf, k) => {
      if (itf.acls === undefined) return;
      const at = `apps[${a}].interfaces[${k}].acls`;
      const ni = networks.get(itf.network);
      if (!ni) return;
      if (ni.type === 'switch') {
        issues.push({ path: at, message: `switch network "${ni.name}" forwards frames untouched: ACLs are for local networks` });
        return;
      }
      const ids = new Map<number, number>();
      itf.acls.forEach((rule, r) => {
        const here = `${at}[${r}]`;
        const id = rule.id ?? r + 1;
        const first = ids.get(id);
        if (first !== undefined) issues.push({ path: `${here}.id`, message: `rule id ${id} is already used by acls[${first}]` });
        else ids.set(id, r);
        const adapter = rule.match.adapter;
        if (adapter !== undefined) {
          if (!portNames.has(adapter)) issues.push({ path: `${here}.match.adapter`, message: `unknown port "${adapter}"` });
          else if (!niPortNames(ni).includes(adapter)) issues.push({ path: `${here}.match.adapter`, message: `port "${adapter}" is not a port of network "${ni.name}"` });
        }
        if (rule.action !== 'portmap') return;
        const niPorts = niPortNames(ni);
        if (niPorts.length === 0) {
          issues.push({ path: `${here}.action`, message: `network "${ni.name}" has no port: nothing can arrive to forward (portmap needs a local network with a port)` });
          return;
        }
        const ports = adapter !== undefined ? [adapter] : niPorts;
        for (const port of ports) {
          const slot = `${port}\u0000${protoName(rule.match.protocol)}\u0000${String(rule.match.lport)}`;
          const user = forwards.get(slot);
          const who = `app "${app.name}" (${here})`;
          if (user !== undefined) {
            issues.push({ path: `${here}.match.lport`, message: `${protoName(rule.match.protocol)} port ${String(rule.match.lport)} on port "${port}" is already forwarded to ${user}` });
          } else {
            forwards.set(slot, who);
          }
        }
      });
    });
  });
  return issues;
}
