// AddressLearner on nftables: table `bridge edgenet`, one transaction per change (see address-learner.ts).
import type { AddressLearner, LearnedAddress } from './address-learner.ts';
import { LEARN_FAMILY, LEARN_TABLE } from './address-learner.ts';
import { KernelError } from '../errors.ts';
import { createNftRunner } from './nft-runner.ts';

const T = `${LEARN_FAMILY} ${LEARN_TABLE}`;
// The chain runs at -200 (filter, bridged): br_netfilter steals bridged IPv4 at priority 0 and re-injects it only
// into hooks of a higher priority, so a chain at 0 would never see what it forwards.
/** BOOTP in a DHCP reply (offsets from the UDP header, in bits): op at 64, yiaddr at 192, chaddr at 288. */
const DHCP_REPLY = '@th,64,8 2';

/**
 * The nft script that makes the table learn. It learns on every bridge of the namespace (`meta ibrname` is not
 * supported in the bridge family of this kernel): what is learned is only ever read for the MACs of switch NI apps.
 * `bridges` only decides whether the table exists.
 */
export function learnScript(_bridges: readonly string[]): string {
  return [
    `add table ${T}`,
    `add set ${T} traffic { type ether_addr . ipv4_addr; flags dynamic,timeout; timeout 1h; size 65535; }`,
    `add set ${T} dhcp { typeof @th,288,48 . @th,192,32; flags dynamic,timeout; timeout 1h; size 65535; }`,
    `add chain ${T} learn { type filter hook forward priority -200; policy accept; }`,
    `flush chain ${T} learn`,
    `add rule ${T} learn ether type ip ip saddr != 0.0.0.0 update @traffic { ether saddr . ip saddr } comment "edgenet learn"`,
    `add rule ${T} learn ether type arp arp saddr ip != 0.0.0.0 update @traffic { ether saddr . arp saddr ip } comment "edgenet learn"`,
    `add rule ${T} learn udp sport 67 udp dport 68 ${DHCP_REPLY} update @dhcp { @th,288,48 . @th,192,32 } comment "edgenet learn"`,
    '',
  ].join('\n');
}

/**
 * Removes what learnScript made, and only that: table `bridge edgenet` also holds the anti-spoofing of local NIs
 * (firewall-acl.ts), which must outlive the last switch NI.
 */
export const unlearnScript = (): string => [`delete chain ${T} learn`, `delete set ${T} traffic`, `delete set ${T} dhcp`, ''].join('\n');

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** A MAC from nft's integer form of 48 raw bits; an IPv4 address from 32. */
function macOf(v: unknown): string | undefined {
  const n = typeof v === 'number' ? BigInt(v) : typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? BigInt(v) : undefined;
  if (n === undefined) return typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? v.toLowerCase() : undefined;
  return Array.from({ length: 6 }, (_, i) => hex2(Number((n >> BigInt(8 * (5 - i))) & 0xffn))).join(':');
}
function ipOf(v: unknown): string | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : undefined;
  if (n === undefined) return typeof v === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(v) ? v : undefined;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Elements of `nft -j list set`: `{ elem: { val: { concat: [mac, ip] } } }` or `{ concat: [...] }`. */
export function parseLearned(json: string, source: LearnedAddress['source']): LearnedAddress[] {
  const doc = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
  const out: LearnedAddress[] = [];
  for (const item of doc.nftables ?? []) {
    for (const e of item.set?.elem ?? []) {
      const val = (e as { elem?: { val?: unknown } }).elem?.val ?? e;
      const concat = (val as { concat?: unknown[] }).concat;
      if (!Array.isArray(concat) || concat.length !== 2) continue;
      const mac = macOf(concat[0]);
      const ip = ipOf(concat[1]);
      if (mac && ip && ip !== '0.0.0.0') out.push({ mac, ip, source });
    }
  }
  return out;
}

export function createNftAddressLearner(): AddressLearner {
  let current = '';
  const runNft = createNftRunner().run;
  const nft = async (what: string, args: string[], stdin?: string): Promise<string | undefined> => {
    const r = await runNft(args, stdin);
    if (r.code === 0) return r.stdout;
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new KernelError(what, T, 'nft', r.stderr.trim());
  };
  return {
    async ensure(bridges) {
      const key = [...bridges].sort().join(',');
      if (key === current) return;
      if (bridges.length === 0) await nft('learner remove', ['-f', '-'], unlearnScript());
      else await nft('learner ensure', ['-f', '-'], learnScript([...bridges].sort()));
      current = key;
    },
    async learned() {
      const out: LearnedAddress[] = [];
      for (const source of ['dhcp', 'traffic'] as const) {
        const text = await nft('learner list', ['-j', 'list', 'set', LEARN_FAMILY, LEARN_TABLE, source]);
        if (text !== undefined) out.push(...parseLearned(text, source));
      }
      return out;
    },
    async remove() {
      current = '';
      await nft('learner remove', ['-f', '-'], unlearnScript());
    },
  };
}
