import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/temporal';
import { MAX_DEMO_MODELS, fleetRatePerModel, parseModelCount } from '../../src/dev/demo-fleet';

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

describe('demo --models: the traffic per model', () => {
  it("shares the example's 24 models' total traffic, never asking more per model", () => {
    assert.equal(fleetRatePerModel({ expectedRatePerModel: 2 }, 6), 2);
    assert.equal(fleetRatePerModel({ expectedRatePerModel: 2 }, 48), 1);
    assert.equal(fleetRatePerModel({ expectedRatePerModel: 2 }, 3040), 0.0158);
    assert.equal(fleetRatePerModel({}, 240), 0.1);
  });
});
