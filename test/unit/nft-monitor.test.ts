// The nft monitor's parser: a transaction on edgenet's tables by someone else is a change; edgenet's own (its nft
// processes' pids), dnsmasq's set elements and other tables are not.
import { describe, expect, it } from 'vitest';
import { NftMonitorParser } from '../../src/drivers/nft-monitor.ts';

const feed = (p: NftMonitorParser, text: string) => text.split('\n').map((l) => p.line(l)).filter((c) => c !== undefined);

describe('nft monitor parser', () => {
  it('reports a foreign transaction on our tables once, at its generation line', () => {
    const p = new NftMonitorParser();
    expect(feed(p, 'delete rule inet edgenet fwd-lan handle 7\nadd rule inet edgenet fwd-lan accept\n# new generation 12 by process 4242 (nft)')).toEqual([
      { kind: 'foreign', detail: 'delete rule inet edgenet fwd-lan handle 7 (+1 more) by nft (pid 4242)' },
    ]);
    expect(feed(p, 'flush chain bridge edgenet spoof\n# new generation 13 by process 4243 (nft)')).toHaveLength(1);
    expect(feed(p, 'delete table inet edgenet\n# new generation 14 by process 4244 (iptables-nft)')[0]?.detail).toContain('iptables-nft');
  });

  it('ignores edgenet\'s own transactions, dnsmasq\'s set elements and other tables', () => {
    const p = new NftMonitorParser();
    p.ownPid(100);
    expect(feed(p, 'add chain bridge edgenet as-0123456789\nadd rule bridge edgenet as-0123456789 counter drop\n# new generation 2 by process 100 (nft)')).toEqual([]);
    expect(feed(p, 'add element inet edgenet ep-0123456789-h1 { 198.51.100.7 }\n# new generation 3 by process 555 (dnsmasq)')).toEqual([]);
    expect(feed(p, 'add rule inet filter input accept\n# new generation 4 by process 777 (nft)')).toEqual([]);
    // a table whose name only begins like ours is not ours
    expect(feed(p, 'add table inet edgenet2\n# new generation 5 by process 778 (nft)')).toEqual([]);
    // a pid is ours for one transaction: a later process with the same pid is someone else
    expect(feed(p, 'delete chain inet edgenet fwd-lan\n# new generation 6 by process 100 (nft)')).toHaveLength(1);
  });

  it('this process\'s transactions (libnftables in it) are always edgenet\'s own', () => {
    const p = new NftMonitorParser((pid) => pid === 321);
    const line = 'add rule bridge edgenet as-0123456789 counter drop\n# new generation 2 by process 321 (node)';
    expect(feed(p, line)).toEqual([]);
    expect(feed(p, line.replace('generation 2', 'generation 3'))).toEqual([]);
    expect(feed(p, line.replace('process 321', 'process 322'))).toHaveLength(1);
    expect(new NftMonitorParser().line(`# new generation 4 by process ${process.pid} (node)`)).toBeUndefined();
  });

  it('a generation line without its process (older kernels) is reported: it cannot be told apart', () => {
    const p = new NftMonitorParser();
    p.ownPid(100);
    expect(feed(p, 'add rule inet edgenet fwd-lan accept\n# new generation 9')).toEqual([{ kind: 'foreign', detail: 'add rule inet edgenet fwd-lan accept by an unknown process' }]);
  });
});
