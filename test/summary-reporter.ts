// Prints one plain closing line, "N passed, N failed, N skipped", which CI reads whatever the test runner. An unhandled
// error fails the run as a failed test does, so it counts as failed (with a line of its own saying so).
import { writeSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown> = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    const errors = unhandledErrors.length;
    failed += errors;
    const errorLine = errors > 0 ? `\nedgenet: ${errors} unhandled error${errors === 1 ? '' : 's'} (counted as failed)` : '';
    // written last, after the default reporter's own summary
    process.once('exit', () => writeSync(1, `${errorLine}\nedgenet: ${passed} passed, ${failed} failed, ${skipped} skipped\n`));
  }
}
