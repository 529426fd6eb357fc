import http from 'node:http';
import https from 'node:https';

/**
 * True when GET url answers 200. Health endpoints of the control plane serve self-signed certificates
 * on loopback before any kubeconfig exists, so certificate checks are off for these probes only.
 */
export function probe(url: string, options: { token?: string; timeoutMs?: number } = {}): Promise<boolean> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const request = client.get(
      url,
      {
        rejectUnauthorized: false,
        timeout: options.timeoutMs ?? 2000,
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
