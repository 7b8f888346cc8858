import { defineConfig } from 'vitest/config';

// The guest's own vitest run (test/guest/guest-run.sh): only the guest test files, one at a time, no rebuild of
// dist/ (the host built it before booting; the guest's view of the repo is read-only underneath).
export default defineConfig({
  test: {
    include: ['test/guest/**/*.guest.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
