import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/temporal';
import { MAX_DEMO_MODELS, parseModelCount } from '../../src/dev/demo-fleet';

describe('demo --models: the model count', () => {
  for (const good of ['1', '24', ' 304 ', '3040', String(MAX_DEMO_MODELS)]) {
    it(`accepts ${JSON.stringify(good)}`, () => assert.equal(parseModelCount(good), Number(good)));
  }
  for (const bad of ['0', '-3', 'abc', '1.5', '1e3', '', '0x10', String(MAX_DEMO_MODELS + 1)]) {
    it(`refuses ${JSON.stringify(bad)}`, () =>
      assert.throws(
        () => parseModelCount(bad),
        (err: unknown) => err instanceof ConfigError && /whole number from 1 to/.test(err.message),
      ));
  }
});
