import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/temporal';

export interface KubeBinaries {
  etcd: string;
  apiserver: string;
  controllerManager: string;
  scheduler: string;
  kwok: string;
}

/**
 * The cluster's programs, all from setup's kube step (.tools/bin). etcd is built there too rather than
 * taken from Debian's etcd-server (3.4): without watch progress notifications the API server refuses the
 * streamed lists kwok asks for, and kwok then sees pods tens of seconds late.
 */
export function kubeBinaries(toolsBin: string): KubeBinaries {
  const tool = (name: string) => {
    const file = path.join(toolsBin, name);
    if (!fs.existsSync(file)) {
      throw new ConfigError(
        `${name} is missing from ${toolsBin}: run \`make setup-test\` (or scripts/setup.sh --test-cluster) to build the test cluster's binaries`,
      );
    }
    return file;
  };
  return {
    etcd: tool('etcd'),
    apiserver: tool('kube-apiserver'),
    controllerManager: tool('kube-controller-manager'),
    scheduler: tool('kube-scheduler'),
    kwok: tool('kwok'),
  };
}
