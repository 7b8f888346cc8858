// Overlapping IPv4 prefixes among many, in O(n log n): the pairwise check froze the event loop for minutes at
// 10 000 networks. Two CIDR prefixes are either disjoint or one contains the other, so after sorting by
// (network, prefix length) the prefixes overlapping one are its ancestors (a stack while sweeping) and its
// descendants (the contiguous run right after it whose network lies inside it).

export interface Prefix {
  /** network address as an unsigned 32-bit integer */
  network: number;
  /** broadcast address as an unsigned 32-bit integer */
  broadcast: number;
  prefixlen: number;
}

/**
 * For each prefix that overlaps one given before it (in the order of `prefixes`), the index of the first such
 * earlier prefix: result[k] = min { j < k | prefixes[j] overlaps prefixes[k] }, or undefined when none.
 */
export function firstEarlierOverlap(prefixes: readonly Prefix[]): (number | undefined)[] {
  const n = prefixes.length;
  const result: (number | undefined)[] = new Array<number | undefined>(n).fill(undefined);
  if (n < 2) return result;
  const order = [...prefixes.keys()].sort((a, b) => {
    const pa = prefixes[a] as Prefix;
    const pb = prefixes[b] as Prefix;
    return pa.network - pb.network || pa.prefixlen - pb.prefixlen || a - b;
  });
  const sorted = order.map((i) => prefixes[i] as Prefix);
  const rmq = new RangeMin(order);

  // ancestors: a stack of prefixes containing the current one, with the smallest config index along it
  const stack: { broadcast: number; minIndex: number }[] = [];
  for (let s = 0; s < n; s++) {
    const p = sorted[s] as Prefix;
    const index = order[s] as number;
    while (stack.length > 0 && (stack[stack.length - 1] as { broadcast: number }).broadcast < p.network) stack.pop();
    let best = stack.length > 0 ? (stack[stack.length - 1] as { minIndex: number }).minIndex : Infinity;
    // descendants: sorted[s+1 .. e] with network <= p.broadcast (they start inside p, so p contains them)
    const e = lastAtOrBelow(sorted, s + 1, p.broadcast);
    if (e > s) best = Math.min(best, rmq.min(s + 1, e));
    if (best < index) result[index] = best;
    stack.push({ broadcast: p.broadcast, minIndex: Math.min(index, stack.length > 0 ? (stack[stack.length - 1] as { minIndex: number }).minIndex : Infinity) });
  }
  return result;
}

/** The last position >= from whose network is <= limit (from - 1 when none): binary search, networks are sorted. */
function lastAtOrBelow(sorted: readonly Prefix[], from: number, limit: number): number {
  let lo = from;
  let hi = sorted.length - 1;
  let found = from - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as Prefix).network <= limit) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Sparse table: the minimum of any range of `values` in O(1) after O(n log n) preparation. */
class RangeMin {
  private readonly table: number[][];

  constructor(values: readonly number[]) {
    this.table = [[...values]];
    for (let k = 1; 1 << k <= values.length; k++) {
      const prev = this.table[k - 1] as number[];
      const row: number[] = [];
      for (let i = 0; i + (1 << k) <= values.length; i++) row.push(Math.min(prev[i] as number, prev[i + (1 << (k - 1))] as number));
      this.table.push(row);
    }
  }

  /** min of values[from..to], both inclusive */
  min(from: number, to: number): number {
    const k = 31 - Math.clz32(to - from + 1);
    const row = this.table[k] as number[];
    return Math.min(row[from] as number, row[to - (1 << k) + 1] as number);
  }
}
