import assert from 'node:assert/strict';
import { ConfigError, parseTemporalOptions, temporalOptionsFromEnv } from '../../src/config/temporal';

describe('Temporal connection options', () => {
  it('defaults to the embedded server', () => {
    const o = parseTemporalOptions({});
    assert.equal(o.address, 'localhost:7233');
    assert.equal(o.namespace, 'default');
    assert.equal(o.tls, false);
  });

  it('lets flags override the environment (TEMPORAL_* names of the official CLI)', () => {
    const env = temporalOptionsFromEnv({
      TEMPORAL_ADDRESS: 'env:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_API_KEY: 'k',
    });
    const o = parseTemporalOptions(env, { address: 'flag:7233' });
    assert.equal(o.address, 'flag:7233');
    assert.equal(o.namespace, 'prod');
    assert.equal(o.apiKey, 'k');
  });

  it('rejects a malformed address, namespace or half an mTLS pair with a one-line ConfigError', () => {
    assert.throws(
      () => parseTemporalOptions({ address: 'http://x' }),
      (e: unknown) => e instanceof ConfigError && /address: must be host:port/.test(e.message),
    );
    assert.throws(() => parseTemporalOptions({ namespace: 'bad name' }), /namespace/);
    assert.throws(
      () => parseTemporalOptions({ tlsCertPath: 'c.pem' }),
      /tlsCertPath and tlsKeyPath must be given together/,
    );
    assert.throws(() => parseTemporalOptions({ unknownOption: 1 }), /Unrecognized key/);
  });
});
