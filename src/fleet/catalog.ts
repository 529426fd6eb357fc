import os from 'node:os';
import { type InstanceType, localInstanceType } from '../domain/local-catalog';

/** This machine as the packing contract's instance type (src/domain/local-catalog.ts). */
export function thisMachine(): InstanceType {
  return localInstanceType({ cpus: os.cpus().length, memoryGiB: os.totalmem() / 2 ** 30 });
}

/** The catalog a pack uses: the run's own, or this machine when the run names none (the local runtime). */
export function catalogOrThisMachine(catalog: InstanceType[] | undefined): InstanceType[] {
  return catalog ?? [thisMachine()];
}
