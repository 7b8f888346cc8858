// Kernel counters of links (IFLA_STATS64) and their MACs, read in one netlink dump when asked for (EVE metrics).
// first: points the netlink package at edgenet's patched addon build before it loads its binding
import './netlink-addon.ts';
import { createRtNetlink } from 'netlink';

export interface LinkCounters {
  mac: string;
  mtu: number;
  rxBytes: bigint;
  txBytes: bigint;
  rxPackets: bigint;
  txPackets: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
}

export interface LinkStatsReader {
  /** Counters of every link of this network namespace, by ifname. */
  read(): Promise<Map<string, LinkCounters>>;
  close(): Promise<void>;
}

const macText = (b: Buffer | undefined): string => (b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '');

/** A netlink dump per read, on a socket of its own (opened on first use). */
export function createNetlinkLinkStats(): LinkStatsReader {
  let nl: ReturnType<typeof createRtNetlink> | undefined;
  return {
    async read() {
      if (!nl) {
        nl = createRtNetlink();
        nl.socket.on('error', () => undefined);
      }
      const out = new Map<string, LinkCounters>();
      for (const m of await nl.getLinks()) {
        const name = m.attrs.ifname;
        if (!name) continue;
        const s = m.attrs.stats64 ?? {};
        out.set(name, {
          mac: macText(m.attrs.address),
          mtu: m.attrs.mtu ?? 0,
          rxBytes: s.rxBytes ?? 0n,
          txBytes: s.txBytes ?? 0n,
          rxPackets: s.rxPackets ?? 0n,
          txPackets: s.txPackets ?? 0n,
          rxDropped: s.rxDropped ?? 0n,
          txDropped: s.txDropped ?? 0n,
          rxErrors: s.rxErrors ?? 0n,
          txErrors: s.txErrors ?? 0n,
        });
      }
      return out;
    },
    async close() {
      nl?.socket.close();
      nl = undefined;
    },
  };
}
