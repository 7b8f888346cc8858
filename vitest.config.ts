import { defineConfig } from 'vitest/config';

// The live view's browser test measures what a person sees (a flap on the page within 1 s): it runs in a group of its
// own after every other file, so chromium and its daemon never share the 2 cores with another file's daemons.
const ALONE = ['test/kernel/live-view-browser.test.ts'];
// Files that make thousands of links at once: one at a time, after the others and before the browser test. The
// kernel's linkwatch sends carrier changes from one queue for the whole host, ~100 a second in order for links it
// takes as not urgent: a tap, a physical NIC losing carrier, or a veth whose peer has the same ifindex in its own
// namespace, as most tests' uplinks do. Measured with a veth flapped every 0.3 s: it was announced at most 0.9 s
// late alone, and 3.4 s late while link-storm.test.ts made its 2000 taps. uplink-failover.test.ts, whose failover
// must come within 10 s, timed out once in CI.
const LINK_STORMS = ['test/kernel/link-storm.test.ts', 'test/kernel/loop-latency.test.ts'];

export default defineConfig({
  test: {
    // dist/ is rebuilt when the sources changed: tests that spawn bin/edgenet.js run the compiled CLI
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests each build their own namespaces with unique prefixes, so files may run in parallel.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'edgenet', include: ['test/**/*.test.ts'], exclude: [...ALONE, ...LINK_STORMS], sequence: { groupOrder: 0 } } },
      // a group each: one file at a time
      ...LINK_STORMS.map((file, i) => ({ extends: true as const, test: { name: `storm-${i + 1}`, include: [file], sequence: { groupOrder: 1 + i } } })),
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 + LINK_STORMS.length } } },
    ],
  },
});
