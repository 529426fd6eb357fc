import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { projectPaths } from '../../src/config/paths';
import { EKS_TOKEN_PREFIX, eksToken, eksTokenUrl } from '../../src/aws/eks-token';

// AWS's documented example credentials: fixed keys and a fixed clock make the token deterministic.
const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEBYaDGV4YW1wbGUrdG9rZW4vPQ==',
};
const now = new Date('2024-05-01T12:00:00Z');
const input = { clusterName: 'fleet-prod', region: 'eu-west-1', credentials, now };

/** SigV4 written out from AWS's specification, independently of @smithy/signature-v4. */
function expectedSignature(url: URL, clusterName: string): string {
  const params = [...url.searchParams].filter(([name]) => name !== 'X-Amz-Signature');
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const query = params
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join('&');
  const canonical = [
    'GET',
    '/',
    query,
    `host:${url.hostname}\nx-k8s-aws-id:${clusterName}\n`,
    'host;x-k8s-aws-id',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const date = url.searchParams.get('X-Amz-Date')!;
  const scope = `${date.slice(0, 8)}/eu-west-1/sts/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join(
    '\n',
  );
  let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`);
  for (const part of [date.slice(0, 8), 'eu-west-1', 'sts', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/**
 * The token `aws eks get-token` would print for the same credentials and clock: botocore (the AWS CLI's
 * engine, in the tracer's venv) presigns GetCallerIdentity with the cluster header injected before
 * signing, the way the CLI's eks customisation does, with botocore's clock frozen. CLI v2 signs for the
 * regional STS endpoint (its default; botocore alone still defaults to the global one).
 */
function botocoreToken(): string {
  const script = `
import base64, datetime, json, sys
import botocore.auth, botocore.session
class Frozen(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(2024, 5, 1, 12, 0, 0)
class Clock:
    datetime = Frozen
botocore.auth.datetime = Clock
c = json.load(sys.stdin)
sts = botocore.session.get_session().create_client(
    "sts", region_name="eu-west-1", aws_access_key_id=c["accessKeyId"],
    aws_secret_access_key=c["secretAccessKey"], aws_session_token=c["sessionToken"])
def inject(request, **kwargs):
    request.headers["x-k8s-aws-id"] = "fleet-prod"
sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
print("k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("="))
`;
  return execFileSync(projectPaths().python, ['-c', script], {
    input: JSON.stringify(credentials),
    env: {
      ...process.env,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    },
  })
    .toString()
    .trim();
}

describe('EKS token (aws eks get-token)', () => {
  it('is a presigned STS GetCallerIdentity URL, base64url without padding behind k8s-aws-v1.', async () => {
    const { token, expiresAt } = await eksToken(input);
    assert.ok(token.startsWith(EKS_TOKEN_PREFIX));
    assert.match(token.slice(EKS_TOKEN_PREFIX.length), /^[A-Za-z0-9_-]+$/, 'base64url, no padding');
    const url = eksTokenUrl(token);
    assert.equal(url.origin, 'https://sts.eu-west-1.amazonaws.com');
    assert.equal(url.pathname, '/');
    const q = Object.fromEntries(url.searchParams);
    assert.equal(q.Action, 'GetCallerIdentity');
    assert.equal(q.Version, '2011-06-15');
    assert.equal(q['X-Amz-Algorithm'], 'AWS4-HMAC-SHA256');
    assert.equal(q['X-Amz-Credential'], 'AKIDEXAMPLE/20240501/eu-west-1/sts/aws4_request');
    assert.equal(q['X-Amz-Date'], '20240501T120000Z');
    assert.equal(q['X-Amz-Expires'], '60');
    assert.equal(q['X-Amz-SignedHeaders'], 'host;x-k8s-aws-id', 'the cluster name is signed');
    assert.equal(q['X-Amz-Security-Token'], credentials.sessionToken);
    assert.equal(q['X-Amz-Signature'], expectedSignature(url, 'fleet-prod'));
    assert.equal(expiresAt.toISOString(), '2024-05-01T12:14:00.000Z');
  });

  it('is deterministic, and bound to its cluster', async () => {
    const a = await eksToken(input);
    assert.equal((await eksToken(input)).token, a.token);
    const other = eksTokenUrl((await eksToken({ ...input, clusterName: 'fleet-test' })).token);
    assert.notEqual(
      other.searchParams.get('X-Amz-Signature'),
      eksTokenUrl(a.token).searchParams.get('X-Amz-Signature'),
    );
    assert.equal(other.searchParams.get('X-Amz-Signature'), expectedSignature(other, 'fleet-test'));
  });

  it('signs what the AWS CLI signs (botocore, same credentials and clock)', async function () {
    this.timeout(60_000);
    const ours = eksTokenUrl((await eksToken(input)).token);
    const theirs = eksTokenUrl(botocoreToken());
    assert.equal(ours.origin, theirs.origin);
    assert.deepEqual(
      Object.fromEntries([...ours.searchParams].sort()),
      Object.fromEntries([...theirs.searchParams].sort()),
    );
  });

  it('refuses a string that is not a token', () => {
    assert.throws(() => eksTokenUrl('Bearer abc'), /not an EKS token/);
  });
});
