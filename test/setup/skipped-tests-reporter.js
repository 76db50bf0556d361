const { relative } = require('node:path');

// Lists every skipped test by name at the end of a run, so a test that needs REDIS_URL is seen to
// be skipped instead of passing unnoticed.
class SkippedTestsReporter {
  onRunComplete(_contexts, results) {
    const skipped = [];
    for (const file of results.testResults) {
      for (const test of file.testResults) {
        if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
          skipped.push(`  ○ ${relative(process.cwd(), file.testFilePath)} › ${test.fullName}`);
        }
      }
    }
    if (skipped.length > 0) process.stderr.write(`\nSkipped tests (${skipped.length}):\n${skipped.join('\n')}\n`);
  }
}

module.exports = SkippedTestsReporter;
