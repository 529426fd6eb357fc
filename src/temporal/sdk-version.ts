import fs from 'node:fs';

/** The exact @temporalio/worker version installed (all @temporalio/* packages are pinned to it). */
export function sdkVersion(): string {
  const manifest = require.resolve('@temporalio/worker/package.json');
  return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
}
