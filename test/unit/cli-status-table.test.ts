import { describe, expect, it } from 'vitest';
import { formatApplyResult, formatColumns, formatStatus, formatTransition } from '../../src/cli/status-table.ts';
import type { Status } from '../../src/edgenet-types.ts';

const status: Status = {
  networks: [
    { name: 'plant', type: 'switch', state: 'ready', bridge: 'enbr-plant', port: 'field' },
    { name: 'lan', type: 'local', state: 'degraded', bridge: 'enbr-lan', subnet: '10.50.0.0/24', gateway: '10.50.0.1', port: 'uplink', reason: 'port uplink has no carrier', leases: [{ mac: '02:00:00:00:00:01', ip: '10.50.0.100', hostname: 'web' }] },
  ],
  endpoints: [
    { app: 'app1', network: 'plant', kind: 'veth', state: 'ready', ifname: 'env0123456789ab', appIfname: 'eth0', mac: '02:aa:bb:cc:dd:ee' },
    { app: 'web', network: 'plant', kind: 'tap', state: 'pending', ifname: 'vif7', reason: 'waiting for tap vif7' },
  ],
  ports: [{ name: 'field', ifname: 'eth1', state: 'ready', carrier: true, network: 'plant' }],
  writes: { link: 7, address: 0, nft: 1, dnsmasqStart: 0, dnsmasqReload: 0, sysctl: 0, route: 0, conntrack: 0 },
};

describe('status table', () => {
  it('aligns columns and does not pad the last one', () => {
    expect(formatColumns(['A', 'BB'], [['xxx', 'y'], ['z', '']])).toEqual(['A    BB', 'xxx  y', 'z']);
  });

  it('shows networks, endpoints and ports with state and reason', () => {
    const text = formatStatus(status);
    const lines = text.split('\n');
    expect(lines[0]).toBe('NETWORKS');
    expect(text).toMatch(/lan\s+local\s+degraded\s+enbr-lan\s+10\.50\.0\.0\/24\s+10\.50\.0\.1\s+uplink\s+port uplink has no carrier/);
    expect(text).toMatch(/web\s+plant\s+tap\s+pending\s+vif7\s+-\s+-\s+waiting for tap vif7/);
    expect(text).toMatch(/app1\s+plant\s+veth\s+ready\s+env0123456789ab \(eth0 in app\)/);
    expect(text).toMatch(/PORTS\n\s+NAME\s+IFNAME\s+STATE\s+CARRIER\s+NETWORK\s+REASON\n\s+field\s+eth1\s+ready\s+up\s+plant/);
    expect(text).toMatch(/LEASES\n.*\n\s+lan\s+10\.50\.0\.100\s+02:00:00:00:00:01\s+web/);
    expect(text).toContain('kernel writes since start: link 7, nft 1');
    // the header row and its data rows line up: STATE starts at the same column everywhere
    const net = lines.slice(1, 4);
    const col = net[0]?.indexOf('STATE');
    expect(net.map((l) => l.indexOf(l.includes('STATE') ? 'STATE' : l.includes('ready') ? 'ready' : 'degraded'))).toEqual([col, col, col]);
  });

  it('says (none) for empty sections', () => {
    const text = formatStatus({ ...status, networks: [], endpoints: [], ports: [] });
    expect(text).toBe('NETWORKS\n  (none)\n\nENDPOINTS\n  (none)\n\nPORTS\n  (none)\n\nkernel writes since start: link 7, nft 1');
  });

  it('formats a transition as ISO time, kind, name, from → to, reason', () => {
    expect(formatTransition({ kind: 'port', name: 'field', from: 'ready', to: 'degraded', at: '2025-01-02T03:04:05.678Z', reason: 'no carrier' }))
      .toMatch(/^2025-01-02T03:04:05\.678Z\s+port\s+field\s+ready → degraded\s+\(no carrier\)$/);
    expect(formatTransition({ kind: 'network', name: 'plant', from: null, to: 'pending', at: '2025-01-02T03:04:05.678Z' })).toMatch(/\(new\) → pending$/);
  });

  it('summarizes an apply by verb and kind; wide lists every object', () => {
    const big = {
      created: [...Array.from({ length: 18 }, (_, i) => `network n${i}`), ...Array.from({ length: 1000 }, (_, i) => `endpoint a${i}/n0`)],
      updated: ['port uplink'],
      deleted: [],
      unchanged: 3,
    };
    expect(formatApplyResult(big)).toBe('created 1018: 18 networks, 1000 endpoints\nupdated 1: 1 port\nunchanged 3');
    expect(formatApplyResult({ created: ['network lan'], updated: [], deleted: ['endpoint web/lan', 'endpoint db/lan'], unchanged: 0 }, { wide: true })).toBe(
      'created 1: 1 network\ndeleted 2: 2 endpoints\nunchanged 0\n  created network lan\n  deleted endpoint web/lan\n  deleted endpoint db/lan',
    );
    expect(formatApplyResult({ created: [], updated: [], deleted: [], unchanged: 3 })).toBe('nothing changed (3 unchanged)');
    expect(formatApplyResult({ created: [], updated: [], deleted: [], unchanged: 3, refused: [{ key: 'web/lan', app: 'web', network: 'lan', path: 'apps[0].interfaces[0]', reason: 'no address left' }] })).toBe(
      'nothing changed (3 unchanged)\nrefused 1: endpoint web/lan',
    );
  });

  it('wide adds columns; --no-headers drops titles and header rows, each row naming its kind', () => {
    const wide = formatStatus(status, { wide: true });
    expect(wide).toMatch(/NAME\s+TYPE\s+STATE\s+BRIDGE\s+SUBNET\s+GATEWAY\s+PORT\s+SELECTED\s+TABLE\s+DNSMASQ\s+LEASES\s+UPSTREAM-DNS\s+REASON/);
    expect(wide).toMatch(/lan\s+local\s+degraded\s+enbr-lan\s+10\.50\.0\.0\/24\s+10\.50\.0\.1\s+uplink\s+-\s+-\s+-\s+1\s+-\s+port uplink has no carrier/);
    expect(wide).toMatch(/APP\s+NETWORK\s+KIND\s+STATE\s+IFNAME\s+MAC\s+IP\s+NETNS\s+RULES\s+REASON/);
    const bare = formatStatus(status, { headers: false }).split('\n');
    expect(bare.some((l) => /NAME|NETWORKS|ENDPOINTS|kernel writes/.test(l))).toBe(false);
    expect(bare.filter((l) => l.startsWith('network '))).toHaveLength(2);
    expect(bare.filter((l) => l.startsWith('endpoint '))).toHaveLength(2);
    expect(bare.filter((l) => l.startsWith('port '))).toHaveLength(1);
    expect(bare.filter((l) => l.startsWith('lease '))).toHaveLength(1);
    expect(bare).not.toContain('');
    expect(bare.find((l) => l.startsWith('port '))).toMatch(/^port\s+field\s+eth1\s+ready\s+up\s+plant$/);
    expect(formatStatus({ ...status, networks: [], endpoints: [], ports: [] }, { headers: false })).toBe('');
  });
});
