// Kernel writes by kind, so tests and status can tell what an event cost ("a flap cost 0 writes").

export type WriteKind = 'link' | 'address' | 'nft' | 'dnsmasqStart' | 'dnsmasqReload' | 'sysctl' | 'route' | 'conntrack';

export type WriteCounts = Record<WriteKind, number>;

/** Every kind at 0. */
export function noWrites(): WriteCounts {
  return { link: 0, address: 0, nft: 0, dnsmasqStart: 0, dnsmasqReload: 0, sysctl: 0, route: 0, conntrack: 0 };
}

export class WriteCounter {
  private readonly counts: WriteCounts = noWrites();

  inc(kind: WriteKind, n = 1): void {
    this.counts[kind] += n;
  }

  snapshot(): WriteCounts {
    return { ...this.counts };
  }

  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}
