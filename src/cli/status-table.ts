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

/** How a table is drawn: `wide` adds columns; `headers: false` drops titles and header rows (each row names its kind). */
export interface TableOptions {
  wide?: boolean;
  headers?: boolean;
}

function section(title: string, header: readonly string[], rows: readonly (readonly string[])[], opts: TableOptions): string[] {
  if (opts.headers === false) {
    // pipe-friendly: no titles, no header row, no indentation; the first column says which table a row is from
    const kind = title.toLowerCase().replace(/s$/, '');
    return formatColumns(['', ...header], rows.map((r) => [kind, ...r])).slice(1);
  }
  if (rows.length === 0) return [title, '  (none)'];
  return [title, ...formatColumns(header, rows).map((l) => `  ${l}`)];
}

/** Sections one after the other: a blank line between them (none without headers). */
function joinSections(parts: readonly string[][], opts: TableOptions): string[] {
  const out: string[] = [];
  for (const part of parts) {
    if (part.length === 0) continue;
    if (out.length > 0 && opts.headers !== false) out.push('');
    out.push(...part);
  }
  return out;
}

export function formatStatus(status: Status, opts: TableOptions = {}): string {
  const wide = opts.wide === true;
  const networks = section(
    'NETWORKS',
    ['NAME', 'TYPE', 'STATE', 'BRIDGE', 'SUBNET', 'GATEWAY', 'PORT', ...(wide ? ['SELECTED', 'TABLE', 'DNSMASQ', 'LEASES', 'UPSTREAM-DNS'] : []), 'REASON'],
    status.networks.map((n) => [
      n.name,
      n.type,
      n.state,
      n.bridge,
      n.subnet ?? NONE,
      n.gateway ?? NONE,
      n.ports && n.ports.length > 1 ? n.ports.join(',') : (n.port ?? NONE),
      ...(wide
        ? [
            n.selectedPort ?? NONE,
            n.table === undefined ? NONE : String(n.table),
            n.dnsmasqPid === undefined ? NONE : String(n.dnsmasqPid),
            n.type === 'local' ? String(n.leases?.length ?? 0) : NONE,
            n.upstreamDns ? (n.upstreamDns.servers.length ? n.upstreamDns.servers.join(',') : n.upstreamDns.from) : NONE,
          ]
        : []),
      n.reason ?? '',
    ]),
    opts,
  );
  const endpoints = section(
    'ENDPOINTS',
    ['APP', 'NETWORK', 'KIND', 'STATE', 'IFNAME', 'MAC', 'IP', ...(wide ? ['NETNS', 'RULES'] : []), 'REASON'],
    status.endpoints.map((e) => [
      e.app,
      e.network,
      e.kind,
      e.state,
      e.appIfname ? `${e.ifname} (${e.appIfname} in app)` : e.ifname,
      e.mac ?? NONE,
      e.ip ?? NONE,
      ...(wide ? [e.netns ?? NONE, String(e.rules?.filter((r) => r.rule !== 'anti-spoofing' && r.rule !== 'default').length ?? 0)] : []),
      e.reason ?? '',
    ]),
    opts,
  );
  const ports = section(
    'PORTS',
    ['NAME', 'IFNAME', 'STATE', 'CARRIER', 'NETWORK', 'REASON'],
    status.ports.map((p) => [p.name, p.ifname, p.state, p.carrier ? 'up' : 'down', p.network ?? NONE, p.reason ?? '']),
    opts,
  );
  // ACL rules (in order) and the implicit deny with the packets each counted; anti-spoofing once it dropped something
  const ruleRows = status.endpoints.flatMap((e) =>
    (e.rules ?? []).filter((r) => r.rule !== 'anti-spoofing' || r.packets > 0).map((r) => [`${e.app}/${e.network}`, r.rule, r.action, String(r.packets)]),
  );
  const rules = ruleRows.length > 0 ? section('RULES', ['ENDPOINT', 'RULE', 'ACTION', 'PACKETS'], ruleRows, opts) : [];
  const leaseRows = status.networks.flatMap((n) => (n.leases ?? []).map((l) => [n.name, l.ip, l.mac, l.hostname ?? NONE]));
  const leases = leaseRows.length > 0 ? section('LEASES', ['NETWORK', 'IP', 'MAC', 'HOSTNAME'], leaseRows, opts) : [];
  const writes = Object.entries(status.writes ?? {}).filter(([, n]) => n > 0);
  const footer = writes.length > 0 && opts.headers !== false ? [`kernel writes since start: ${writes.map(([k, n]) => `${k} ${n}`).join(', ')}`] : [];
  return joinSections([networks, endpoints, ports, rules, leases, footer], opts).join('\n');
}

/** One line per transition: ISO time, kind, name, from → to, reason. */
export function formatTransition(t: Transition): string {
  const line = `${t.at}  ${t.kind.padEnd(8)}  ${t.name.padEnd(16)}  ${t.from ?? '(new)'} → ${t.to}`;
  return t.reason ? `${line}  (${t.reason})` : line;
}

const KIND_WORDS: Record<string, [string, string]> = { network: ['network', 'networks'], endpoint: ['endpoint', 'endpoints'], port: ['port', 'ports'] };

/** `18 networks, 1000 endpoints` for `network a`, `endpoint web/lan`, … entries. */
function countByKind(entries: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const e of entries) {
    const kind = e.split(' ', 1)[0] ?? e;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts]
    .map(([kind, n]) => {
      const [one, many] = KIND_WORDS[kind] ?? [kind, `${kind}s`];
      return `${n} ${n === 1 ? one : many}`;
    })
    .join(', ');
}

/**
 * What an apply changed, for `edgenet apply`: one summary line per verb (`created 1018: 18 networks, 1000
 * endpoints`), then `unchanged N`; `wide` lists every object as well. `-o json` has the whole ApplyResult.
 */
export function formatApplyResult(r: ApplyResult, opts: TableOptions = {}): string {
  const changed = r.created.length + r.updated.length + r.deleted.length;
  const refused = r.refused ?? [];
  const lines: string[] = [];
  if (changed === 0) lines.push(`nothing changed (${r.unchanged} unchanged)`);
  else {
    for (const [verb, list] of [['created', r.created], ['updated', r.updated], ['deleted', r.deleted]] as const) {
      if (list.length > 0) lines.push(`${verb} ${list.length}: ${countByKind(list)}`);
    }
    lines.push(`unchanged ${r.unchanged}`);
  }
  if (refused.length > 0) lines.push(`refused ${refused.length}: ${refused.length === 1 ? 'endpoint' : 'endpoints'} ${refused.map((x) => x.key).join(', ')}`);
  if (opts.wide) {
    for (const [verb, list] of [['created', r.created], ['updated', r.updated], ['deleted', r.deleted]] as const) {
      for (const name of list) lines.push(`  ${verb} ${name}`);
    }
    for (const x of refused) lines.push(`  refused endpoint ${x.key}: ${x.reason} (${x.path})`);
  }
  return lines.join('\n');
}
