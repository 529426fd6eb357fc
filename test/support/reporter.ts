import Mocha from 'mocha';

/**
 * Mocha's spec reporter plus one closing line in the plain "N passed, N failed" form,
 * which CI reads to count tests.
 */
class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // Printed after the spec summary, so it is the last line of the run.
      process.on('exit', () =>
        console.log(`mocha: ${passes} passed, ${failures} failed, ${pending} skipped`),
      );
    });
  }
}

export = SpecWithSummary;
