// Human-readable rendering of Status and Transition for `edgenet status` and `edgenet events`.
import type { ApplyResult, Status, Transition } from '../edgenet-types.ts';

const NONE = '-';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatColumns(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function section(title: string, header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [title, '  (none)'];
  return [title, ...formatColumns(header, rows).map((l) => `  ${l}`)];
}

export function formatStatus(status: Status): string {
  const out: string[] = [];
  out.push(
    ...section(
      'NETWORKS',
      ['NAME', 'TYPE', 'STATE', 'BRIDGE', 'SUBNET', 'GATEWAY', 'PORT', 'REASON'],
      status.networks.map((n) => [n.name, n.type, n.state, n.bridge, n.subnet ?? NONE, n.gateway ?? NONE, n.port ?? NONE, n.reason ?? '']),
    ),
  );
  out.push('');
  out.push(
    ...section(
      'ENDPOINTS',
      ['APP', 'NETWORK', 'KIND', 'STATE', 'IFNAME', 'MAC', 'IP', 'REASON'],
      status.endpoints.map((e) => [
        e.app,
        e.network,
        e.kind,
        e.state,
        e.appIfname ? `${e.ifname} (${e.appIfname} in app)` : e.ifname,
        e.mac ?? NONE,
        e.ip ?? NONE,
        e.reason ?? '',
      ]),
    ),
  );
  out.push('');
  out.push(
    ...section(
      'PORTS',
      ['NAME', 'IFNAME', 'STATE', 'CARRIER', 'NETWORK', 'REASON'],
      status.ports.map((p) => [p.name, p.ifname, p.state, p.carrier ? 'up' : 'down', p.network ?? NONE, p.reason ?? '']),
    ),
  );
  // ACL rules (in order) and the implicit deny with the packets each counted; anti-spoofing once it dropped something
  const rules = status.endpoints.flatMap((e) =>
    (e.rules ?? []).filter((r) => r.rule !== 'anti-spoofing' || r.packets > 0).map((r) => [`${e.app}/${e.network}`, r.rule, r.action, String(r.packets)]),
  );
  if (rules.length > 0) {
    out.push('', ...section('RULES', ['ENDPOINT', 'RULE', 'ACTION', 'PACKETS'], rules));
  }
  const leases = status.networks.flatMap((n) => (n.leases ?? []).map((l) => [n.name, l.ip, l.mac, l.hostname ?? NONE]));
  if (leases.length > 0) {
    out.push('', ...section('LEASES', ['NETWORK', 'IP', 'MAC', 'HOSTNAME'], leases));
  }
  const writes = Object.entries(status.writes ?? {}).filter(([, n]) => n > 0);
  if (writes.length > 0) {
    out.push('', `kernel writes since start: ${writes.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  return out.join('\n');
}

/** One line per transition: time, kind, name, from → to, reason. */
export function formatTransition(t: Transition): string {
  const time = t.at.replace(/^\d{4}-\d{2}-\d{2}T/, '').replace(/Z$/, '');
  const line = `${time}  ${t.kind.padEnd(8)}  ${t.name.padEnd(16)}  ${t.from ?? '(new)'} → ${t.to}`;
  return t.reason ? `${line}  (${t.reason})` : line;
}

/** What an apply changed, for `edgenet apply`. */
export function formatApplyResult(r: ApplyResult): string {
  const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : NONE);
  if (r.created.length + r.updated.length + r.deleted.length === 0) {
    return `nothing changed (${r.unchanged} unchanged)`;
  }
  return [`created:   ${list(r.created)}`, `updated:   ${list(r.updated)}`, `deleted:   ${list(r.deleted)}`, `unchanged: ${r.unchanged}`].join('\n');
}
