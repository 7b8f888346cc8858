// EVE ACLs (eve-api config/fw.proto: ACE, ACEMatch, ACEAction) → edgenet's `acls` rules, 1:1 (docs/NETWORK-ACLS.md).
// Values are passed on as they are: what is wrong with them (a port of 70000, a rate of 0, an unknown match type)
// is reported by the config's own checks, at the EVE path (the sources registered here).
import type { AclRuleInput } from '../config/acl-schema.ts';
import { isAllowAll } from './eve-convert.ts';
import type { EveAce } from './eve-schema.ts';

export interface EveAclContext {
  niType: 'local' | 'switch';
  /** the NI's subnet (local): what `eidset` stands for */
  subnet?: string;
  /** edgenet port name of a port label (adapter name or shared label), among the NI's ports */
  portOfLabel(label: string): string | undefined;
  find(level: 'warning' | 'info', path: string, message: string): void;
  /** config path → EVE path, for errors found later */
  source(to: string, from: string): void;
}

export type EveAclResult = { acls?: AclRuleInput[] } | { refused: string };

// a protocol name EVE takes from /etc/protocols, as a number
const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132 };
const UNITS: Readonly<Record<string, 'second' | 'minute' | 'hour' | 'day'>> = {
  '': 'second', s: 'second', sec: 'second', second: 'second', m: 'minute', min: 'minute', minute: 'minute', h: 'hour', hour: 'hour', d: 'day', day: 'day',
};

function protocolOf(value: string): string | number {
  const v = value.trim().toLowerCase();
  if (v === 'tcp' || v === 'udp' || v === 'icmp' || v === 'all') return v;
  if (/^\d+$/.test(v)) return Number(v);
  return PROTOCOL_NUMBERS[v] ?? value;
}

function portOf(value: string): number | string {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
}

/**
 * The rules of one app adapter. `at`: its EVE path (`apps[A].interfaces[K]`), `to`: the edgenet interface path.
 * An adapter on a local NI always gets `acls` (EVE: no ACE, nothing but DHCP/DNS); on a switch NI none.
 */
export function eveAcls(aces: readonly EveAce[], at: string, to: string, ctx: EveAclContext): EveAclResult {
  if (ctx.niType === 'switch') {
    const other = aces.flatMap((ace, i) => (isAllowAll(ace) ? [] : [i]));
    if (other.length > 0) {
      ctx.find('warning', `${at}.acls`, `ACL entries on a switch network instance (acls[${other.join('], acls[')}]) are not implemented: ignored, frames are bridged untouched`);
    }
    return {};
  }
  // only allow-all entries (the forms EVE's own tests write, IPv4 or IPv6): what the NI allows anyway, no rules
  if (aces.length > 0 && aces.every(isAllowAll)) return {};
  ctx.source(`${to}.acls`, `${at}.acls`);
  const acls: AclRuleInput[] = [];
  for (const [i, ace] of aces.entries()) {
    const from = `${at}.acls[${i}]`;
    if (ace.actions.length > 1) return { refused: `${from}.actions: ${ace.actions.length} actions in one entry: EVE takes one (allow, drop, limit or portmap)` };
    const here = `${to}.acls[${acls.length}]`;
    ctx.source(here, from);
    const match: Record<string, unknown> = {};
    ctx.source(`${here}.match`, `${from}.matches`);
    for (const [k, v] of [['action', ''], ['appPort', '.appPort'], ['limit', ''], ['limit.rate', '.limitrate'], ['limit.unit', '.limitunit'], ['limit.burst', '.limitburst']] as const) {
      ctx.source(`${here}.${k}`, `${from}.actions[0]${v}`);
    }
    let ipv6 = false;
    for (const [j, m] of ace.matches.entries()) {
      const src = `${from}.matches[${j}]`;
      const type = m.type.trim().toLowerCase();
      const key = type === 'eidset' ? 'ip' : type;
      if (key in match) return { refused: `${src}: a second "${type}" match in one entry (EVE allows each match type once)` };
      ctx.source(`${here}.match.${key}`, src);
      if (type === 'ip') {
        if (m.value.includes(':')) ipv6 = true;
        match.ip = m.value.endsWith('/32') ? m.value.slice(0, -3) : m.value;
      } else if (type === 'eidset') {
        match.ip = ctx.subnet ?? '';
        ctx.find('info', src, `eidset: matched as the network instance's subnet ${ctx.subnet ?? ''} (its apps; static DNS entries elsewhere are not included)`);
      } else if (type === 'host') match.host = m.value;
      else if (type === 'protocol') match.protocol = protocolOf(m.value);
      else if (type === 'lport' || type === 'fport') match[type] = portOf(m.value);
      else if (type === 'adapter') {
        const port = ctx.portOfLabel(m.value);
        if (port === undefined) return { refused: `${src}: adapter "${m.value}" is no port of this network instance (neither a port's name nor one of its shared labels)` };
        match.adapter = port;
      } else match[m.type || '(empty)'] = m.value;
    }
    // edgenet's NIs are IPv4: an entry for IPv6 addresses matches nothing here
    if (ipv6) {
      ctx.find('info', `${from}.matches`, 'an IPv6 address match: edgenet network instances are IPv4, the entry matches nothing and is left out');
      continue;
    }
    const action = ace.actions[0];
    const rule: Record<string, unknown> = { match };
    if (ace.id > 0) rule.id = ace.id;
    if (action?.portmap) {
      rule.action = 'portmap';
      if (action.appPort > 0) rule.appPort = action.appPort;
    } else if (action?.limit) {
      rule.action = 'limit';
      rule.limit = { rate: action.limitrate, unit: UNITS[action.limitunit.trim().toLowerCase()] ?? action.limitunit, ...(action.limitburst > 0 && { burst: action.limitburst }) };
    } else if (action?.drop) {
      rule.action = 'drop';
    }
    acls.push(rule as AclRuleInput);
  }
  return { acls };
}
