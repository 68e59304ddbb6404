// Ends a vitest run with one plain line, "tests: N passed, N failed, N skipped", which CI reads
// as the run's result. A test file that fails to load counts as one failure, as do unhandled
// errors, and so does a file whose hooks failed (its tests show as skipped), so a broken file can
// never look like a green run.
import type { Reporter, TestModule } from "vitest/node";

export class SummaryLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failedHere++;
        else skipped++;
      }
      if (failedHere === 0 && module.state() === "failed") failedHere = 1;
      failed += failedHere;
    }
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
