import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { testStack } from './stack';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/**
 * Real HTTP with the path sent exactly as written: fetch would normalise "..", "%2e%2e" and the like
 * before the server ever saw them, and those are what the hostile inputs are about.
 */
export function request(
  base: string,
  method: string,
  rawPath: string,
  options: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | Buffer | undefined = options.raw;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: rawPath, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    // A server that refuses a huge body early may close before the client has sent it all.
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Every string in a history, payload bytes decoded: payloads (inputs, memos, update arguments, results)
 * are bytes in the protobuf, and a token inside one would be invisible to a scan of the raw object.
 */
function historyStrings(value: unknown, out: string[]): void {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) historyStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) historyStrings(v, out);
}

/** Every history in the namespace (all runs of the test run so far) as one string. */
export async function allHistoriesText(): Promise<{ count: number; text: string }> {
  const { client } = await testStack();
  const parts: string[] = [];
  let count = 0;
  for await (const info of client.workflow.list()) {
    historyStrings(await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory(), parts);
    count++;
  }
  return { count, text: parts.join('\n') };
}
