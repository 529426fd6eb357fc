import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ECRClient } from '@aws-sdk/client-ecr';
import { registryCredentials } from '../../src/images/credentials';
import { decodeEcrAuthorization, EcrCredentials, ecrRegion, isEcrRegistry } from '../../src/images/ecr';

describe('registry credentials', () => {
  it('decodes an ECR authorization token into user and password (a password may hold colons)', () => {
    const decoded = decodeEcrAuthorization({
      authorizationToken: Buffer.from('AWS:abc:def==').toString('base64'),
      proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      expiresAt: new Date('2030-01-01T00:00:00Z'),
    });
    assert.deepEqual(decoded.credentials, { username: 'AWS', password: 'abc:def==' });
    assert.equal(decoded.registry, '123456789012.dkr.ecr.eu-west-1.amazonaws.com');
  });

  it('refuses a token that is not user:password', () => {
    assert.throws(
      () =>
        decodeEcrAuthorization({
          authorizationToken: Buffer.from('no-colon').toString('base64'),
          proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com',
        }),
      /does not decode to "user:password"/,
    );
  });

  it('recognises ECR registries and their region', () => {
    assert.equal(isEcrRegistry('123456789012.dkr.ecr.us-east-1.amazonaws.com'), true);
    assert.equal(isEcrRegistry('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn'), true);
    assert.equal(isEcrRegistry('registry.example.com'), false);
    assert.equal(ecrRegion('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com'), 'us-gov-west-1');
  });

  it('asks ECR once while the token is fresh, again once it nears expiry', async () => {
    let calls = 0;
    const regions: string[] = [];
    let now = Date.parse('2030-01-01T00:00:00Z');
    const fake = {
      send: async () => {
        calls++;
        return {
          authorizationData: [
            {
              authorizationToken: Buffer.from(`AWS:token-${calls}`).toString('base64'),
              proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com',
              expiresAt: new Date(now + 12 * 3600_000),
            },
          ],
        };
      },
    } as unknown as ECRClient;
    const ecr = new EcrCredentials(
      (region) => {
        regions.push(region);
        return fake;
      },
      () => now,
    );
    const registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    assert.equal((await ecr.forRegistry(registry)).password, 'token-1');
    now += 11 * 3600_000;
    assert.equal((await ecr.forRegistry(registry)).password, 'token-1');
    now += 45 * 60_000; // 15 minutes before expiry: inside the renewal margin
    assert.equal((await ecr.forRegistry(registry)).password, 'token-2');
    assert.deepEqual([...new Set(regions)], ['eu-west-1']);
  });

  it('reads an auth file per registry, then the username/password variables', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-auth-'));
    try {
      const file = path.join(dir, 'auth.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          auths: { 'reg.one:5000': { auth: Buffer.from('alice:s3:cret').toString('base64') } },
        }),
      );
      const passwordFile = path.join(dir, 'password');
      fs.writeFileSync(passwordFile, 'from-file\n');
      const credentials = registryCredentials({
        env: {
          STOWAGE_REGISTRY_AUTH_FILE: file,
          STOWAGE_REGISTRY_USERNAME: 'bob',
          STOWAGE_REGISTRY_PASSWORD_FILE: passwordFile,
        },
      });
      assert.deepEqual(await credentials('reg.one:5000'), { username: 'alice', password: 's3:cret' });
      assert.deepEqual(await credentials('reg.two'), { username: 'bob', password: 'from-file' });
      assert.equal(await registryCredentials({ env: {} })('reg.two'), undefined);
      await assert.rejects(
        registryCredentials({ env: { STOWAGE_REGISTRY_USERNAME: 'bob' } })('reg.two'),
        /without STOWAGE_REGISTRY_PASSWORD/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
