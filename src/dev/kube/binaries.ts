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

/** Where Debian's etcd-server package installs etcd (setup's apt step). */
const SYSTEM_ETCD = '/usr/bin/etcd';

/**
 * The cluster's programs: the Kubernetes components and kwok come from setup's kube step (.tools/bin);
 * etcd from .tools/bin when one was built there, otherwise Debian's package.
 */
export function kubeBinaries(toolsBin: string): KubeBinaries {
  const tool = (name: string) => {
    const file = path.join(toolsBin, name);
    if (!fs.existsSync(file)) {
      throw new ConfigError(
        `${name} is missing from ${toolsBin}: run \`make setup\` (or scripts/setup.sh) to build the test cluster's binaries`,
      );
    }
    return file;
  };
  const builtEtcd = path.join(toolsBin, 'etcd');
  const etcd = fs.existsSync(builtEtcd) ? builtEtcd : SYSTEM_ETCD;
  if (!fs.existsSync(etcd)) {
    throw new ConfigError(
      `etcd is missing (${SYSTEM_ETCD}): install Debian's etcd-server (scripts/setup.sh does)`,
    );
  }
  return {
    etcd,
    apiserver: tool('kube-apiserver'),
    controllerManager: tool('kube-controller-manager'),
    scheduler: tool('kube-scheduler'),
    kwok: tool('kwok'),
  };
}
