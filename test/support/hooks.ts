import { stopTestKube } from './kube';
import { stopMoto } from './moto';
import { stopTestRegistries } from './registry';
import { stopTestStack } from './stack';

/** Mocha global fixture: whatever the run started is stopped once, after the last test. */
export async function mochaGlobalTeardown(): Promise<void> {
  await stopTestKube();
  await stopMoto();
  await stopTestRegistries();
  await stopTestStack();
}
