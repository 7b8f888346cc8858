// LinkStatsReader in memory: tests set the counters.
import type { LinkCounters, LinkStatsReader } from './link-stats.ts';

export const zeroCounters = (mac = ''): LinkCounters => ({ mac, mtu: 1500, rxBytes: 0n, txBytes: 0n, rxPackets: 0n, txPackets: 0n, rxDropped: 0n, txDropped: 0n, rxErrors: 0n, txErrors: 0n });

export class FakeLinkStats implements LinkStatsReader {
  readonly links = new Map<string, LinkCounters>();

  async read(): Promise<Map<string, LinkCounters>> {
    return new Map(this.links);
  }

  async close(): Promise<void> {}

  set(ifname: string, counters: Partial<LinkCounters>): void {
    this.links.set(ifname, { ...(this.links.get(ifname) ?? zeroCounters()), ...counters });
  }
}
