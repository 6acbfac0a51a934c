/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, that any CI
 * can read, preceded by one line per failed test (file, name, first line of
 * the error). Unhandled errors fail a vitest run, so they count as failures
 * here too: the line never says "0 failed" on a run that exits non-zero.
 *
 * With TEST_SUMMARY_FILE set, the same lines are appended to that file, so
 * `.ci/run` can repeat every runtime's failures at the very end of its output,
 * where a CI that keeps only the tail of a log still shows them.
 */
import { appendFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n', 1)[0]!.slice(0, 300);
}

export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let skipped = 0;
    const failures: string[] = unhandledErrors.map((e) => `unhandled error: ${firstLine(e.message)}`);
    for (const m of modules) {
      const tests = [...m.children.allTests()];
      for (const t of tests) {
        const result = t.result();
        if (result.state === 'passed') passed++;
        else if (result.state === 'failed') {
          failures.push(`FAILED ${m.moduleId.replace(process.cwd() + '/', '')} > ${t.fullName}: ${firstLine(result.errors?.[0]?.message)}`);
        } else skipped++;
      }
      // A file that failed to load has no tests to count.
      if (m.state() === 'failed' && tests.length === 0) {
        failures.push(`FAILED ${m.moduleId.replace(process.cwd() + '/', '')} (did not load): ${firstLine(m.errors()[0]?.message)}`);
      }
    }
    const lines = [...failures, `${passed} passed, ${failures.length} failed, ${skipped} skipped`];
    process.stdout.write(`\n${lines.join('\n')}\n`);
    const file = process.env['TEST_SUMMARY_FILE'];
    if (file) appendFileSync(file, `node ${process.version}: ${lines.join('\n  ')}\n`);
  }
}
