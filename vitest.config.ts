import { defineConfig } from 'vitest/config';

// The live view's browser test measures what a person sees (a flap on the page within 1 s): it runs in a group of its
// own after every other file, so chromium and its daemon never share the 2 cores with another file's daemons.
const ALONE = ['test/kernel/live-view-browser.test.ts'];

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
      { extends: true, test: { name: 'edgenet', include: ['test/**/*.test.ts'], exclude: ALONE, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
