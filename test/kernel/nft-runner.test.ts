// nftables through libnftables in edgenet's own process (src/drivers/nft-runner.ts) on the real kernel, in a
// namespace of its own: the same results and messages as the nft command, and the nft monitor tells edgenet's
// in-process transactions from an nft process that is not edgenet's.
import { afterEach, expect, it } from 'vitest';
import { parseNftError } from '../../src/drivers/firewall-nft.ts';
import { createNftRunner } from '../../src/drivers/nft-runner.ts';
import type { NftChange } from '../../src/drivers/nft-monitor.ts';
import { NetnsPool, describeKernel } from '../helpers/netns.ts';
import { runFixtureInNetns } from '../helpers/netns-child.ts';

interface ChildReport {
  mode: string;
  results: { code: number; stdout: string; stderr: string; ms: number }[];
  foreignCode: number;
  changes: NftChange[];
  last: string;
  inherited: string[];
}

const rules = (listing: string): unknown[] =>
  (JSON.parse(listing) as { nftables: Record<string, unknown>[] }).nftables.filter((o) => 'rule' in o).map((o) => o.rule);

describeKernel('nftables in process (libnftables)', () => {
  const pool = new NetnsPool();
  afterEach(() => pool.removeAll());

  it('gives what the nft command gives, and the monitor reports only the change that is not edgenet\'s', async () => {
    const ns = await pool.add('nft');
    const r = await runFixtureInNetns<ChildReport>(ns.path, 'test/kernel/fixtures/nft-runner-child.ts', [], { ...process.env, EDGENET_NFT: '' });
    expect(r.mode).toBe('library');
    // no socket of the process (libnftables' netfilter socket included) is inherited by the children it starts
    expect(r.inherited).toEqual([]);
    const [text, list, echo, missing, badRule, counters] = r.results;
    expect(text?.code, text?.stderr).toBe(0);
    expect(list?.code).toBe(0);
    expect(rules(list?.stdout ?? '')).toEqual([expect.objectContaining({ chain: 'c', comment: 'first' })]);
    // echo with handles: what was added, as the command prints it
    expect(echo?.code).toBe(0);
    const echoed = (JSON.parse(echo?.stdout ?? '') as { nftables: { add?: { rule?: unknown } }[] }).nftables.map((o) => o.add?.rule);
    expect(echoed).toEqual([expect.objectContaining({ comment: 'second', handle: expect.any(Number) as number })]);
    // messages as the command's: the error line, the command under it
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toContain('No such file or directory');
    expect(missing?.stderr).toContain('list table inet nope');
    expect(badRule?.code).toBe(1);
    expect(parseNftError(badRule?.stderr ?? '').errno).toBe('ENOENT');
    expect(counters?.code).toBe(0);
    // the command, in the same namespace, lists the same table
    const command = createNftRunner({ exec: ['ip', 'netns', 'exec', ns.name] });
    const viaCommand = await command.run(['-j', 'list', 'table', 'inet', 'edgenet'], undefined);
    expect(viaCommand.code).toBe(0);
    expect(rules(viaCommand.stdout)).toEqual(rules(r.last));
    expect(rules(r.last).map((x) => (x as { comment?: string }).comment)).toEqual(['first', 'second', 'foreign', 'third']);
    // the monitor: its start, then the foreign nft process's rule, nothing of the child's own transactions
    expect(r.foreignCode).toBe(0);
    expect(r.changes.map((c) => c.kind)).toEqual(['resync', 'foreign']);
    expect(r.changes[1]?.detail).toContain('comment "foreign"');
    const ms = r.results.map((x) => x.ms.toFixed(1)).join(' / ');
    console.log(`libnftables in process: ${ms} ms per call (text, list, echo, error, error, counters)`);
  });
});
