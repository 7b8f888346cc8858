import type { ConfigIssue } from '../errors.ts';
import type { Config } from './config-schema.ts';
import { niPortNames } from './config-switch.ts';

// Rules of VLAN and bond ports (ports[].vlan / ports[].bond) that the schema cannot express: what they are built
// on must not be used otherwise (a bond member is the bond's alone), and two of them must not claim one link.

export function checkPortLinks(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // ifname → the NIs using the port of that ifname directly
  const niUsers = new Map<string, string[]>();
  for (const ni of config.networks) {
    for (const name of niPortNames(ni)) {
      const port = config.ports.find((p) => p.name === name);
      if (port) niUsers.set(port.ifname, [...(niUsers.get(port.ifname) ?? []), ni.name]);
    }
  }
  const portOfIfname = new Map(config.ports.map((p) => [p.ifname, p]));
  const memberOf = new Map<string, string>();
  const vlanOn = new Map<string, string>();
  config.ports.forEach((p, i) => {
    const at = `ports[${i}]`;
    if (p.vlan && p.bond) {
      issues.push({ path: `${at}.bond`, message: 'vlan and bond are exclusive: a port is a VLAN sub-interface or a bond, not both' });
      return;
    }
    if (p.vlan) {
      if (p.vlan.parent === p.ifname) issues.push({ path: `${at}.vlan.parent`, message: `a VLAN sub-interface cannot be its own parent ("${p.ifname}")` });
      const key = `${p.vlan.parent}.${p.vlan.id}`;
      const other = vlanOn.get(key);
      if (other !== undefined) issues.push({ path: `${at}.vlan.id`, message: `VLAN ${p.vlan.id} on "${p.vlan.parent}" is already port "${other}"` });
      else vlanOn.set(key, p.name);
    }
    if (p.bond) {
      const seen = new Set<string>();
      p.bond.members.forEach((m, k) => {
        const path = `${at}.bond.members[${k}]`;
        if (seen.has(m)) return issues.push({ path, message: `duplicate member "${m}"` });
        seen.add(m);
        if (m === p.ifname) return issues.push({ path, message: `a bond cannot be its own member ("${m}")` });
        const bond = memberOf.get(m);
        if (bond !== undefined) return issues.push({ path, message: `"${m}" is already a member of bond port "${bond}"` });
        memberOf.set(m, p.name);
        const users = niUsers.get(m);
        const port = portOfIfname.get(m);
        if (users && port) {
          issues.push({ path, message: `"${m}" is port "${port.name}" of network${users.length > 1 ? 's' : ''} ${users.map((u) => `"${u}"`).join(', ')}: a bond member carries nothing of its own` });
        }
      });
      if (p.bond.lacpRate !== undefined && p.bond.mode !== '802.3ad') {
        issues.push({ path: `${at}.bond.lacpRate`, message: `lacpRate applies to mode 802.3ad only (mode is ${p.bond.mode})` });
      }
      const miimon = p.bond.miimon ?? 0;
      for (const field of ['upDelay', 'downDelay'] as const) {
        const v = p.bond[field];
        if (v === undefined || v === 0) continue;
        if (miimon === 0) issues.push({ path: `${at}.bond.${field}`, message: `${field} needs miimon (the MII monitor whose interval it counts in)` });
        else if (v % miimon !== 0) issues.push({ path: `${at}.bond.${field}`, message: `${field} must be a multiple of miimon (${miimon} ms)` });
      }
    }
  });
  // a VLAN on a bond member would bypass the bond
  config.ports.forEach((p, i) => {
    if (!p.vlan) return;
    const bond = memberOf.get(p.vlan.parent);
    if (bond !== undefined) issues.push({ path: `ports[${i}].vlan.parent`, message: `"${p.vlan.parent}" is a member of bond port "${bond}": put the VLAN on the bond` });
  });
  return issues;
}
